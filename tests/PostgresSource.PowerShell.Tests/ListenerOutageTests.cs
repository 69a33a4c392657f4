using System.Collections;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Management.Automation;
using System.Text.Json;
using Npgsql;
using PostgresSource.TestReceivers;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.PowerShell.Tests;

/// <summary>
/// Issue 12's fault test for the cmdlet in the hosted engine, written as a runbook would: four writers; the sink
/// answers 503 for 60 s (far past any retry budget), then 401 for 10 s (a refusal: the listener stops with
/// PgSource.DeliveryFailed and the runbook starts it again), then 202. Every row arrives, and while the sink is
/// down no journal row is deleted and the slot's confirmed position does not pass an undelivered change.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class ListenerOutageTests(DatabaseFixture database, ITestOutputHelper output)
{
    private const int Writers = 4;
    private const int RowsPerWriter = 250;
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Refusal = TimeSpan.FromSeconds(10);

    private const string Runbook = """
        $s = New-PgSource -Name outage -Uid 5d0e8f7a-2b4c-4e61-9a3f-7c1b2d3e4f50 -Table items -Mode $mode -ConnectionString $cs
        $s | Install-PgSourceTrigger -Confirm:$false -ErrorAction Stop
        $global:refusals = 0
        while ($true) {
            try {
                $s | Start-PgSourceListener -Sink $sink -RetryDelay 00:00:00.1 -MaxRetryDelay 00:00:01 -ErrorAction Stop
            }
            catch {
                if ($_.FullyQualifiedErrorId -notlike 'PgSource.DeliveryFailed*') { throw }
                $global:refusals++
                Start-Sleep -Milliseconds 500
            }
        }
        """;

    [Theory]
    [InlineData("Durable")]
    [InlineData("Logical")]
    public async Task EveryRowArrivesAfterAnOutageAndARefusalAndNothingIsAcknowledgedWhileTheSinkIsDown(string mode)
    {
        var db = await database.CreateDatabaseAsync("out");
        await TestSql.ExecuteAsync(db, OutageWorkload.ItemsTable);
        var clock = new Stopwatch();
        int Answer() => !clock.IsRunning || clock.Elapsed < Outage ? 503 : clock.Elapsed < Outage + Refusal ? 401 : 202;
        await using var receiver = await CloudEventReceiver.StartAsync(_ => Answer());

        using var ps = PowerShellSession.Open(utility: true);
        using var shell = ps.Create(Runbook, new Hashtable { ["cs"] = db, ["mode"] = mode, ["sink"] = receiver.Url.ToString() });
        var run = shell.BeginInvoke();
        var objectName = await WaitForObjectAsync(db, mode);
        // The listener is up once it holds the source's lock.
        await WaitAsync(async () => await TestSql.ScalarAsync<long>(db,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE '%(active lock)' AND datname = current_database()") > 0, "the listener");
        await Task.Delay(1000);

        clock.Start();
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(() => OutageWorkload.WriteAsync(db, w, RowsPerWriter))).ToList();
        var checks = 0;
        string? maxConfirmed = null;
        while (clock.Elapsed < Outage - TimeSpan.FromSeconds(2))
        {
            if (mode == "Durable")
            {
                var (rows, journal) = await OutageWorkload.CountsAsync(db, $"SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM \"{objectName}\".journal)");
                Assert.Equal(rows, journal);
            }
            else if (await TestSql.ScalarAsync<string>(db, $"SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '{objectName}'") is { } confirmed
                     && (maxConfirmed is null || OutageWorkload.Lsn(confirmed) > OutageWorkload.Lsn(maxConfirmed)))
            {
                maxConfirmed = confirmed;
            }
            Assert.DoesNotContain(receiver.Requests, r => r.Status is >= 200 and < 300);
            FailIfEnded(run, shell, "during the outage");
            checks++;
            await Task.Delay(1000);
        }
        await Task.WhenAll(writers);
        var committed = await OutageWorkload.CommittedIdsAsync(db);

        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        var delivered = new HashSet<long>();
        while (DateTime.UtcNow < deadline && !committed.IsSubsetOf(delivered))
        {
            FailIfEnded(run, shell, "before every row arrived");
            delivered = OutageWorkload.RowIds(receiver.Requests.Where(r => r.Status is >= 200 and < 300).Select(r => r.Body));
            await Task.Delay(250);
        }
        shell.Stop();
        var refusals = (int)ps.Run("$global:refusals").Output.Single().BaseObject;

        var accepted = receiver.Requests.Where(r => r.Status is >= 200 and < 300).ToList();
        output.WriteLine($"{mode}: committed {committed.Count}, accepted {accepted.Count} ({accepted.Count - delivered.Count} duplicates), " +
            $"{receiver.Requests.Count(r => r.Status == 503)} answered 503, {receiver.Requests.Count(r => r.Status == 401)} answered 401, " +
            $"listener stopped on a refusal {refusals}x, {checks} outage checks, max confirmed during outage {maxConfirmed ?? "-"}");

        Assert.Equal(Writers * RowsPerWriter, committed.Count);
        Assert.DoesNotContain(committed, id => !delivered.Contains(id));
        Assert.Equal(committed.Count, accepted.Select(r => r.Headers["ce-id"]).Distinct().Count());
        Assert.True(refusals >= 1, "the 401 never stopped the listener");
        Assert.True(checks >= 40, $"{checks} checks");
        if (mode == "Logical")
        {
            var firstChange = accepted.Select(r => OutageWorkload.Lsn(r.Headers["ce-pglsn"])).Min();
            Assert.True(maxConfirmed is null || OutageWorkload.Lsn(maxConfirmed) < firstChange, $"confirmed {maxConfirmed} during the outage; first change at {firstChange}");
        }
        else
        {
            // The stopped listener wrote out its last acknowledgements when it was disposed.
            await WaitAsync(async () => await TestSql.ScalarAsync<long>(db, $"SELECT count(*) FROM \"{objectName}\".journal") == 0, "an empty journal");
        }

        // Leave no slot behind: slots are cluster-wide and keep WAL.
        var removed = ps.Run("New-PgSource -Name outage -Uid 5d0e8f7a-2b4c-4e61-9a3f-7c1b2d3e4f50 -Table items -Mode $mode -ConnectionString $cs | Uninstall-PgSourceTrigger -Confirm:$false",
            new Hashtable { ["cs"] = db, ["mode"] = mode });
        Assert.Empty(removed.Errors);
    }

    /// <summary>The runbook loops until stopped: its end is a failure. (Its error stream is read only then: enumerating an open one blocks.)</summary>
    private static void FailIfEnded(IAsyncResult run, System.Management.Automation.PowerShell shell, string when)
    {
        if (run.IsCompleted)
        {
            Assert.Fail($"the runbook ended {when}: " + string.Join("; ", shell.Streams.Error.ReadAll()) +
                (shell.InvocationStateInfo.Reason is { } reason ? " / " + reason.Message : string.Empty));
        }
    }

    private static async Task<string> WaitForObjectAsync(string db, string mode)
    {
        string? name = null;
        await WaitAsync(async () => (name = await TestSql.ScalarAsync<string>(db, mode == "Durable"
            ? "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'postgressource\\_%'"
            : "SELECT slot_name::text FROM pg_replication_slots WHERE database = current_database()")) is not null, "the installed source");
        return name!;
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Gave up waiting for {what}.");
            }
            await Task.Delay(100);
        }
    }
}
