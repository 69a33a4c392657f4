using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.Benchmarks;

/// <summary>
/// P2 for Logical without the listener: the paced writer's rows read from the source's slot by a bare Npgsql
/// pgoutput stream that only records times (no JSON, no HTTP). The floor the walsender and the client library
/// give on this box, split at the walsender's send: commit (the transaction's commit timestamp) → the server's
/// send time of the row's message (its XLogData clock) → the client has read it. All three are this machine's wall clock.
/// </summary>
internal static class BareStreamLatency
{
    public sealed record Result(Percentiles CommitToSend, Percentiles SendToRead, Percentiles CommitToRead);

    public sealed record Percentiles(double P50, double P95, double P99, double Max)
    {
        public static Percentiles Of(IEnumerable<double> values)
        {
            var sorted = values.Order().ToArray();
            double Pct(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
            return new Percentiles(Pct(0.50), Pct(0.95), Pct(0.99), sorted[^1]);
        }

        public override string ToString() => $"p50 {P50:F2}, p95 {P95:F2}, p99 {P99:F2}, max {Max:F1} ms";
    }

    public static async Task<Result> MeasureAsync(string connectionString, SourceDefinition source, int rate, int total)
    {
        var toSend = new List<double>(total);
        var toRead = new List<double>(total);
        var name = source.DatabaseObjectName;
        await using var replication = new LogicalReplicationConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await replication.Open();
        using var stop = new CancellationTokenSource();
        var reader = Task.Run(async () =>
        {
            var commit = DateTime.MinValue;
            await foreach (var message in replication.StartReplication(new PgOutputReplicationSlot(name),
                new PgOutputReplicationOptions(name, PgOutputProtocolVersion.V1, binary: false), stop.Token))
            {
                var read = DateTime.UtcNow;
                switch (message)
                {
                    case BeginMessage begin:
                        commit = begin.TransactionCommitTimestamp;
                        break;
                    case InsertMessage insert:
                        toSend.Add((insert.ServerClock - commit).TotalMilliseconds);
                        toRead.Add((read - insert.ServerClock).TotalMilliseconds);
                        break;
                    case CommitMessage:
                        replication.SetReplicationStatus(message.WalEnd);
                        if (toSend.Count >= total)
                        {
                            return;
                        }
                        break;
                }
            }
        });
        await Task.Delay(500); // the stream is up
        await PacedWriter.RunAsync(connectionString, source.Tables[0].ToString(), rate, total);
        if (await Task.WhenAny(reader, Task.Delay(TimeSpan.FromMinutes(1))) != reader)
        {
            stop.Cancel();
            throw new TimeoutException($"P2 bare stream: only {toSend.Count} of {total} rows arrived");
        }
        await reader;
        return new Result(Percentiles.Of(toSend), Percentiles.Of(toRead), Percentiles.Of(toSend.Zip(toRead, (a, b) => a + b)));
    }
}
