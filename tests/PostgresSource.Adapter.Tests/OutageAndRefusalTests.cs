using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Npgsql;
using PostgresSource.TestReceivers;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Adapter.Tests;

/// <summary>
/// Issue 12's proof of the acknowledgement rule at process level: four writers; the sink answers 503 for 60 s
/// (far past any retry budget), then 401 for 10 s (a refusal: the adapter stops with exit code 3 and, as
/// Kubernetes would, is started again), then 202. Every row must arrive; while the sink is down no journal row
/// may be deleted and the slot's confirmed position may not pass an undelivered change.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class OutageAndRefusalTests(DatabaseFixture database, ITestOutputHelper output)
{
    private const int Writers = 4;
    private const int RowsPerWriter = 300;
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Refusal = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData("Durable")]
    [InlineData("Logical")]
    public async Task EveryRowArrivesAfterAnOutageAndARefusalAndNothingIsAcknowledgedWhileTheSinkIsDown(string mode)
    {
        var db = await database.CreateDatabaseAsync("o");
        await TestSql.ExecuteAsync(db, OutageWorkload.ItemsTable);

        var clock = new Stopwatch();
        int Answer() => !clock.IsRunning || clock.Elapsed < Outage ? 503 : clock.Elapsed < Outage + Refusal ? 401 : 202;
        await using var receiver = await CloudEventReceiver.StartAsync(_ => Answer());
        var name = "outage-" + mode.ToLowerInvariant();
        var environment = new Dictionary<string, string>
        {
            ["K_SINK"] = receiver.Url.ToString(),
            ["NAME"] = name,
            ["NAMESPACE"] = "test",
            ["PGSOURCE_UID"] = "3b6c0a52-7d43-4f0e-9a55-0c2d8f1e6a71",
            ["PGSOURCE_TABLES"] = "items",
            ["PGSOURCE_MODE"] = mode,
            ["PGSOURCE_CONNECTION"] = db,
            ["PGSOURCE_HTTP_PORT"] = AdapterProcess.FreePort().ToString(),
            // No attempt limit (the default); short waits so the test sees each phase.
            ["PGSOURCE_DELIVERY_BACKOFF_DELAY"] = "100ms",
            ["PGSOURCE_DELIVERY_MAX_BACKOFF_DELAY"] = "1s",
        };

        var adapter = AdapterProcess.Start(environment);
        await adapter.WaitForLogAsync(l => l.TryGetProperty("msg", out var m) && m.GetString() == "listening", TimeSpan.FromSeconds(60));
        var objectName = (await TestSql.ScalarAsync<string>(db, mode == "Durable"
            ? "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'postgressource\\_%'"
            : "SELECT slot_name::text FROM pg_replication_slots WHERE database = current_database()"))!;
        Assert.StartsWith("postgressource_outage_", objectName);

        clock.Start();
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(() => OutageWorkload.WriteAsync(db, w, RowsPerWriter))).ToList();

        // During the outage: nothing acknowledged.
        var checks = 0;
        string? maxConfirmed = null;
        while (clock.Elapsed < Outage - TimeSpan.FromSeconds(2))
        {
            if (mode == "Durable")
            {
                // One statement, one snapshot: each committed row put one journal row in its own transaction.
                var (rows, journal) = await OutageWorkload.CountsAsync(db, $"SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM \"{objectName}\".journal)");
                Assert.Equal(rows, journal);
            }
            else
            {
                var confirmed = await TestSql.ScalarAsync<string>(db, $"SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '{objectName}'");
                if (confirmed is not null && (maxConfirmed is null || OutageWorkload.Lsn(confirmed) > OutageWorkload.Lsn(maxConfirmed)))
                {
                    maxConfirmed = confirmed;
                }
            }
            Assert.DoesNotContain(receiver.Requests, r => r.Status is >= 200 and < 300);
            checks++;
            await Task.Delay(1000);
        }
        await Task.WhenAll(writers);
        Assert.True(receiver.Requests.Count > 30, $"only {receiver.Requests.Count} attempts in the outage");

        // The refusal stops the adapter (exit code 3, the change kept); like a Deployment, start it again until it runs.
        var exits = new List<int>();
        var committed = await OutageWorkload.CommittedIdsAsync(db);
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        var delivered = new HashSet<long>();
        while (DateTime.UtcNow < deadline)
        {
            if (adapter.HasExited)
            {
                exits.Add(await adapter.WaitForExitAsync(TimeSpan.FromSeconds(5)));
                await adapter.DisposeAsync();
                await Task.Delay(500);
                adapter = AdapterProcess.Start(environment);
            }
            delivered = OutageWorkload.RowIds(receiver.Requests.Where(r => r.Status is >= 200 and < 300).Select(r => r.Body));
            if (committed.IsSubsetOf(delivered))
            {
                break;
            }
            await Task.Delay(250);
        }
        // A graceful stop writes out the last acknowledgements.
        adapter.SendSigterm();
        Assert.Equal(0, await adapter.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        await adapter.DisposeAsync();

        var accepted = receiver.Requests.Where(r => r.Status is >= 200 and < 300).ToList();
        var eventIds = accepted.Select(r => r.Headers["ce-id"]).ToHashSet();
        var refused = receiver.Requests.Count(r => r.Status == 401);
        output.WriteLine($"{mode}: committed {committed.Count}, accepted {accepted.Count} ({accepted.Count - delivered.Count} duplicates), " +
            $"{receiver.Requests.Count(r => r.Status == 503)} answered 503, {refused} answered 401, adapter exits {string.Join(",", exits)}, " +
            $"{checks} outage checks, max confirmed during outage {maxConfirmed ?? "-"}");

        Assert.Equal(Writers * RowsPerWriter, committed.Count);
        Assert.DoesNotContain(committed, id => !delivered.Contains(id));
        Assert.Equal(committed.Count, eventIds.Count);
        Assert.True(refused >= 1);
        Assert.Contains(3, exits);
        Assert.True(checks >= 40, $"{checks} checks");
        if (mode == "Logical")
        {
            // The slot never confirmed a position at or past the first change nobody had taken.
            var firstChange = accepted.Select(r => OutageWorkload.Lsn(r.Headers["ce-pglsn"])).Min();
            Assert.True(maxConfirmed is null || OutageWorkload.Lsn(maxConfirmed) < firstChange, $"confirmed {maxConfirmed} during the outage; first change at {firstChange}");
        }
        else
        {
            Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, $"SELECT count(*) FROM \"{objectName}\".journal"));
        }
    }
}
