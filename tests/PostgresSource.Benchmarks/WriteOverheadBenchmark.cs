using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.TestSupport;

namespace PostgresSource.Benchmarks;

/// <summary>
/// P3: pgbench single-row INSERT transactions per second with the source installed, divided by the
/// same without it. Runs alternate (without, with, without, with, ...); the ratio is the median of each
/// pair's ratio, so a slow minute on a shared machine hits one pair, not one side.
/// </summary>
internal sealed partial class WriteOverheadBenchmark(BenchmarkSettings settings)
{
    public sealed record Result(CaptureMode Mode, double BaselineTps, double WithSourceTps, IReadOnlyList<double> BaselineRuns, IReadOnlyList<double> WithSourceRuns)
    {
        /// <summary>The median of the per-pair ratios (pair i: with-source run i over the baseline run just before it).</summary>
        public double Ratio => Median(WithSourceRuns.Zip(BaselineRuns, (with, without) => with / without).ToList());

        /// <summary>Logical with a consumer: the walsender's CPU seconds per 10,000 writer transactions (null when not measured).</summary>
        public double? WalSenderCpuPer10k { get; init; }
    }

    /// <param name="filtered">
    /// The table sends three of its five columns and, by a row condition on the key, half its rows (odd ids are
    /// dropped in the database: no journal row, no notification, no decoded change).
    /// </param>
    public async Task<Result> RunAsync(string connectionString, CaptureMode mode, Func<SourceDefinition, IAsyncDisposable?> startConsumer, bool filtered = false)
    {
        var table = $"bench_p3_{mode.ToString().ToLowerInvariant()}";
        await TestSql.ExecuteAsync(connectionString, $"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id bigserial PRIMARY KEY, customer int NOT NULL, item text NOT NULL, qty int NOT NULL, created timestamptz NOT NULL DEFAULT now())");
        var source = new SourceDefinition { Name = $"bench-p3-{mode.ToString().ToLowerInvariant()}", Tables = [TableName.Parse(table)], Mode = mode }.Validate();
        if (filtered)
        {
            source = (source with { Filters = [new TableFilter { Table = source.Tables[0], IncludeColumns = ["id", "customer", "qty"], Where = "id % 2 = 0" }] }).Validate();
        }
        var script = Path.Combine(Path.GetTempPath(), $"pgsource-p3-{Guid.NewGuid():N}.sql");
        await File.WriteAllTextAsync(script, $"\\set c random(1, 100000)\nINSERT INTO {table} (customer, item, qty) VALUES (:c, 'widget-' || :c, :c % 7 + 1);\n");

        var baseline = new List<double>();
        var withSource = new List<double>();
        double walSenderCpu = 0, walSenderTransactions = 0;
        try
        {
            for (var round = 0; round < settings.P3Rounds; round++)
            {
                baseline.Add((await PgbenchAsync(connectionString, script)).Tps);

                await using (var install = await SourceSchema.PlanInstallAsync(source, ConnectionSettings.Parse(connectionString)))
                {
                    await install.ApplyAsync();
                }
                var consumer = startConsumer(source);
                try
                {
                    var walSender = consumer is not null && mode == CaptureMode.Logical
                        ? await WalSenderUsage.StartAsync(connectionString, source.DatabaseObjectName)
                        : null;
                    var run = await PgbenchAsync(connectionString, script);
                    withSource.Add(run.Tps);
                    if (walSender?.Elapsed() is { } cpu)
                    {
                        walSenderCpu += cpu;
                        walSenderTransactions += run.Transactions;
                    }
                }
                finally
                {
                    if (consumer is not null)
                    {
                        await consumer.DisposeAsync();
                    }
                    await using var uninstall = await SourceSchema.PlanUninstallAsync(source, ConnectionSettings.Parse(connectionString));
                    await uninstall.ApplyAsync();
                }
                await TestSql.ExecuteAsync(connectionString, $"TRUNCATE {table}");
            }
        }
        finally
        {
            File.Delete(script);
        }
        return new Result(mode, Median(baseline), Median(withSource), baseline, withSource)
        {
            WalSenderCpuPer10k = walSenderTransactions > 0 ? walSenderCpu / walSenderTransactions * 10_000 : null,
        };
    }

    /// <summary>
    /// The trigger's own cost: EXPLAIN ANALYZE of a 10,000-row INSERT with the source installed reports the
    /// time spent in the trigger (function body including pg_notify's queueing, not the commit).
    /// Returns microseconds per row in the trigger and per row for the whole statement.
    /// </summary>
    public async Task<(double TriggerUsPerRow, double StatementUsPerRow)> TriggerProfileAsync(string connectionString, CaptureMode mode)
    {
        var table = $"bench_p3t_{mode.ToString().ToLowerInvariant()}";
        await TestSql.ExecuteAsync(connectionString, $"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id bigserial PRIMARY KEY, customer int NOT NULL, item text NOT NULL, qty int NOT NULL, created timestamptz NOT NULL DEFAULT now())");
        var source = new SourceDefinition { Name = $"bench-p3t-{mode.ToString().ToLowerInvariant()}", Tables = [TableName.Parse(table)], Mode = mode }.Validate();
        await using (var install = await SourceSchema.PlanInstallAsync(source, ConnectionSettings.Parse(connectionString)))
        {
            await install.ApplyAsync();
        }
        try
        {
            await using var connection = new Npgsql.NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            double trigger = 0, total = 0;
            for (var i = 0; i < 3; i++)
            {
                await using var command = new Npgsql.NpgsqlCommand($"BEGIN; EXPLAIN (ANALYZE, FORMAT TEXT) INSERT INTO {table} (customer, item, qty) SELECT g, 'widget-' || g, g % 7 + 1 FROM generate_series(1, 10000) g", connection);
                var lines = new List<string>();
                await using (var reader = await command.ExecuteReaderAsync())
                {
                    do
                    {
                        while (await reader.ReadAsync()) lines.Add(reader.GetString(0));
                    } while (await reader.NextResultAsync());
                }
                await using (var rollback = new Npgsql.NpgsqlCommand("ROLLBACK", connection)) await rollback.ExecuteNonQueryAsync();
                trigger = lines.Select(l => TriggerLine().Match(l)).Where(m => m.Success).Sum(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)) * 1000 / 10000;
                total = lines.Select(l => ExecutionLine().Match(l)).Where(m => m.Success).Sum(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)) * 1000 / 10000;
            }
            return (trigger, total);
        }
        finally
        {
            await using var uninstall = await SourceSchema.PlanUninstallAsync(source, ConnectionSettings.Parse(connectionString));
            await uninstall.ApplyAsync();
        }
    }

    [GeneratedRegex(@"^Trigger .*: time=([0-9.]+) calls=")]
    private static partial Regex TriggerLine();

    [GeneratedRegex(@"^Execution Time: ([0-9.]+) ms")]
    private static partial Regex ExecutionLine();

    private async Task<(double Tps, long Transactions)> PgbenchAsync(string connectionString, string script)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var start = new ProcessStartInfo("pgbench") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "-n", "-f", script, "-c", settings.WriterClients.ToString(CultureInfo.InvariantCulture), "-j", "1",
                     "-T", settings.P3Seconds.ToString(CultureInfo.InvariantCulture), "-h", builder.Host!, "-p", builder.Port.ToString(CultureInfo.InvariantCulture),
                     "-U", builder.Username!, builder.Database! })
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["PGPASSWORD"] = builder.Password;
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var match = TpsLine().Match(output);
        var processed = ProcessedLine().Match(output);
        if (process.ExitCode != 0 || !match.Success || !processed.Success)
        {
            throw new InvalidOperationException($"pgbench failed ({process.ExitCode}): {error}\n{output}");
        }
        return (double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), long.Parse(processed.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    internal static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    [GeneratedRegex(@"tps = ([0-9.]+) \(without initial connection time\)")]
    private static partial Regex TpsLine();

    [GeneratedRegex(@"number of transactions actually processed: ([0-9]+)")]
    private static partial Regex ProcessedLine();
}
