using System.Collections;
using System.Collections.Concurrent;
using System.Management.Automation;
using System.Text.RegularExpressions;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.PowerShell.Tests;

/// <summary>Start-PgSourceListener -Snapshot shows the snapshot's progress with WriteProgress, as a user's host would display it.</summary>
[Collection(DatabaseCollection.Name)]
public sealed partial class SnapshotProgressTests(DatabaseFixture database, ITestOutputHelper output)
{
    private const int Rows = 5000;

    /// <summary>A new database with an analysed table of <see cref="Rows"/> orders to snapshot.</summary>
    private async Task<string> OrdersDatabaseAsync()
    {
        var db = await database.CreateDatabaseAsync("ps");
        await TestSql.ExecuteAsync(db, $"CREATE TABLE orders (id int PRIMARY KEY, qty int); INSERT INTO orders SELECT g, g FROM generate_series(1, {Rows}) g; ANALYZE orders;");
        return db;
    }

    [Fact]
    public async Task DurableSnapshotShowsRisingProgressAndEndsWithACompletedRecord()
    {
        var db = await OrdersDatabaseAsync();
        using var ps = PowerShellSession.Open();
        var vars = new Hashtable { ["cs"] = db };
        var installed = ps.Run("$s = New-PgSource -Name snapshotter -Table orders -Mode Durable -ConnectionString $cs | Install-PgSourceTrigger -PassThru -Confirm:$false", vars);
        Assert.Empty(installed.Errors);

        // One more event than rows: the listener reads past the snapshot's last row, so the snapshot reports it is done.
        using var shell = ps.Create($"$s | Start-PgSourceListener -Snapshot -MaxEvents {Rows + 1} -Timeout 60");
        var progress = new ConcurrentQueue<ProgressRecord>();
        shell.Streams.Progress.DataAdded += (sender, e) => progress.Enqueue(((PSDataCollection<ProgressRecord>)sender!)[e.Index]);
        var running = shell.BeginInvoke();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!progress.Any(p => p.RecordType == ProgressRecordType.Completed))
        {
            // Only counts here: enumerating a stream of a running pipeline blocks until the pipeline ends.
            Assert.False(running.IsCompleted, $"The listener ended before the snapshot was done ({shell.Streams.Error.Count} errors).");
            Assert.True(DateTime.UtcNow < deadline, $"The snapshot never completed its progress ({progress.Count} records).");
            await Task.Delay(20);
        }
        await TestSql.ExecuteAsync(db, $"INSERT INTO orders VALUES ({Rows + 1}, 0)");
        var events = shell.EndInvoke(running);

        Assert.Empty(shell.Streams.Error);
        Assert.Equal(Rows + 1, events.Count);
        Assert.Equal("INSERT", events[^1].Properties["Operation"].Value.ToString());

        var snapshot = progress.Where(p => p.Activity == "Snapshot of default/snapshotter").ToList();
        foreach (var record in snapshot)
        {
            output.WriteLine($"{record.RecordType} {record.PercentComplete}% {record.StatusDescription}");
        }
        Assert.Equal(snapshot.Count, progress.Count);
        Assert.Single(snapshot.Select(p => p.ActivityId).Distinct());
        var rows = snapshot.Select(p => long.Parse(RowsRead().Match(p.StatusDescription).Groups[1].Value)).ToList();
        Assert.True(rows.Distinct().Count() >= 3, "expected several distinct progress steps, got " + string.Join(",", rows));
        Assert.Equal(rows.Order(), rows);
        Assert.Equal(snapshot.Select(p => p.PercentComplete).Order(), snapshot.Select(p => p.PercentComplete));
        Assert.All(snapshot, p => Assert.StartsWith("table public.orders (1 of 1): ", p.StatusDescription));

        var last = snapshot[^1];
        Assert.Equal(ProgressRecordType.Completed, last.RecordType);
        Assert.Single(snapshot, p => p.RecordType == ProgressRecordType.Completed);
        Assert.Equal($"table public.orders (1 of 1): {Rows}/{Rows} rows, done", last.StatusDescription);
        Assert.Equal(100, last.PercentComplete);
    }

    [Fact]
    public async Task ListenerStoppedMidSnapshotStillClosesTheProgressBar()
    {
        var db = await OrdersDatabaseAsync();
        using var ps = PowerShellSession.Open();
        var vars = new Hashtable { ["cs"] = db };
        ps.Run("$s = New-PgSource -Name halfway -Table orders -Mode Durable -ConnectionString $cs | Install-PgSourceTrigger -PassThru -Confirm:$false", vars);

        using var shell = ps.Create("$s | Start-PgSourceListener -Snapshot -MaxEvents 2500 -Timeout 60");
        var events = shell.Invoke();

        Assert.Equal(2500, events.Count);
        var snapshot = shell.Streams.Progress.ToList();
        Assert.NotEmpty(snapshot);
        var last = snapshot[^1];
        Assert.Equal(ProgressRecordType.Completed, last.RecordType);
        Assert.Single(snapshot, p => p.RecordType == ProgressRecordType.Completed);
        Assert.DoesNotContain("done", last.StatusDescription);
        Assert.InRange(last.PercentComplete, 0, 99);
    }

    [GeneratedRegex(@": (\d+)/\d+ rows")]
    private static partial Regex RowsRead();
}
