using System.Text.Json;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Capture.Snapshots;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Tests.Capture;
using PostgresSource.Core.Tests.Logical;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Core.Tests.Backfills;

/// <summary>
/// Backfill on demand against a real server, in the modes that have it: a table read again while its source runs and
/// writers keep changing it. Every row's last event is its newest state, nothing is lost, reads are marked, and a
/// capture killed halfway through a backfill goes on after its last acknowledged row.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class BackfillTests(DatabaseFixture database, ITestOutputHelper output)
{
    private static CaptureOptions Options(CaptureMode mode) => (mode == CaptureMode.Logical
        ? LogicalCaptureTests.Fast
        : new CaptureOptions { JournalPollInterval = TimeSpan.FromMilliseconds(20) }) with
    {
        BackfillCheckInterval = TimeSpan.FromMilliseconds(100),
        SnapshotChunkSize = 100,
    };

    private static (int Id, int Version) Row(CapturedChange change)
    {
        var data = CaptureHarness.Payload(change).GetProperty("data");
        return (data.GetProperty("id").GetInt32(), data.GetProperty("v").GetInt32());
    }

    [Theory]
    [InlineData(CaptureMode.Durable)]
    [InlineData(CaptureMode.Logical)]
    public async Task ABackfillUnderConcurrentWritesLeavesEveryRowsLastEventAtItsNewestState(CaptureMode mode)
    {
        var db = await database.CreateDatabaseAsync("bfill");
        await TestSql.ExecuteAsync(db, "CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL); INSERT INTO items SELECT g, 0 FROM generate_series(1, 2000) g");
        var source = CaptureHarness.Source(mode, "items");
        await CaptureHarness.InstallAsync(source, db);

        await using var capture = ChangeCaptureFactory.Create(source, ConnectionSettings.Parse(db), Options(mode));
        var seen = new List<CapturedChange>();
        using var stop = new CancellationTokenSource();
        var reading = Task.Run(async () =>
        {
            try
            {
                await foreach (var change in capture.ReadAllAsync(stop.Token))
                {
                    lock (seen) seen.Add(change);
                    await capture.AcknowledgeAsync(change, stop.Token);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        });
        await CaptureHarness.WaitUntilReadyAsync(capture);

        // Writers update and insert rows before, during and after the backfill.
        using var writing = new CancellationTokenSource(TimeSpan.FromSeconds(4));
        var writer = Task.Run(async () =>
        {
            var random = new Random(7);
            var next = 2001;
            while (!writing.IsCancellationRequested)
            {
                await TestSql.ExecuteAsync(db, $"UPDATE items SET v = v + 1 WHERE id IN ({random.Next(1, 2000)}, {random.Next(1, 2000)}); INSERT INTO items VALUES ({next++}, 0)");
            }
        });
        await Task.Delay(500);
        var requested = await Backfill.RequestAsync(source, ConnectionSettings.Parse(db), null, CancellationToken.None);
        Assert.Equal("public.items", Assert.Single(requested).ToString());
        await writer;

        var final = JsonDocument.Parse((await TestSql.ScalarAsync<string>(db, "SELECT json_object_agg(id, v)::text FROM items"))!)
            .RootElement.EnumerateObject().ToDictionary(p => int.Parse(p.Name, System.Globalization.CultureInfo.InvariantCulture), p => p.Value.GetInt32());
        bool Settled()
        {
            lock (seen)
            {
                var last = new Dictionary<int, int>();
                foreach (var change in seen)
                {
                    var (id, v) = Row(change);
                    last[id] = v;
                }
                return seen.Count(c => c.Operation == ChangeOperation.Read) >= 2000 && final.All(f => last.TryGetValue(f.Key, out var v) && v == f.Value);
            }
        }
        var settled = false;
        for (var i = 0; i < 300 && !(settled = Settled()); i++)
        {
            await Task.Delay(100);
        }
        stop.Cancel();
        await reading;

        var reads = seen.Where(c => c.Operation == ChangeOperation.Read).ToList();
        output.WriteLine($"{seen.Count} changes, {reads.Count} reads, {final.Count} rows");
        Assert.True(settled, $"{seen.Count} changes, {reads.Count} reads; some row's last event is not its newest state");
        // Every row there when the backfill began is read once, as a read event.
        Assert.Equal(reads.Count, reads.Select(r => Row(r).Id).Distinct().Count());
        Assert.True(Enumerable.Range(1, 2000).All(reads.Select(r => Row(r).Id).ToHashSet().Contains));
        Assert.All(reads, r => Assert.Equal("READ", CaptureHarness.Payload(r).GetProperty("action").GetString()));
        // No row's read comes after a newer change of it: after its read, a row's versions only grow.
        var lastVersion = new Dictionary<int, int>();
        foreach (var change in seen)
        {
            var (id, v) = Row(change);
            if (change.Operation == ChangeOperation.Read && lastVersion.TryGetValue(id, out var before))
            {
                Assert.True(v >= before, $"row {id}: read v={v} after a change with v={before}");
            }
            lastVersion[id] = v;
        }
    }

    [Theory]
    [InlineData(CaptureMode.Durable)]
    [InlineData(CaptureMode.Logical)]
    public async Task ABackfillInterruptedByAKillGoesOnAfterItsLastAcknowledgedRow(CaptureMode mode)
    {
        var db = await database.CreateDatabaseAsync("bfkill");
        await TestSql.ExecuteAsync(db, "CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL); INSERT INTO items SELECT g, 1 FROM generate_series(1, 30000) g");
        var source = CaptureHarness.Source(mode, "items");
        await CaptureHarness.InstallAsync(source, db);

        // The first capture: one live change, then the backfill, stopped (as a kill would: no goodbye) once it has read
        // and acknowledged part of the table and had time to keep that progress.
        var first = ChangeCaptureFactory.Create(source, ConnectionSettings.Parse(db), Options(mode));
        var before = new List<CapturedChange>();
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            var requested = false;
            var firstRead = DateTime.MaxValue;
            var reading = Task.Run(async () =>
            {
                await foreach (var change in first.ReadAllAsync(stop.Token))
                {
                    lock (before) before.Add(change);
                    await first.AcknowledgeAsync(change, stop.Token);
                    if (before.Count % 500 == 0)
                    {
                        // A slow consumer, so the backfill is still under way when the capture is killed.
                        await Task.Delay(50, stop.Token);
                    }
                    if (change.Operation == ChangeOperation.Read && firstRead == DateTime.MaxValue)
                    {
                        firstRead = DateTime.UtcNow;
                    }
                    if (before.Count(c => c.Operation == ChangeOperation.Read) >= 8000 && DateTime.UtcNow - firstRead > TimeSpan.FromMilliseconds(600))
                    {
                        break;
                    }
                }
            });
            await CaptureHarness.WaitUntilReadyAsync(first);
            await TestSql.ExecuteAsync(db, "UPDATE items SET v = 2 WHERE id = 1");
            while (before.Count == 0) await Task.Delay(20); // the reader has the live change: the stream is past its start
            await Backfill.RequestAsync(source, ConnectionSettings.Parse(db), [TableName.Parse("items")], CancellationToken.None);
            requested = true;
            await reading;
            Assert.True(requested);
        }
        await first.DisposeAsync();
        Assert.Equal(ChangeOperation.Update, before[0].Operation);
        var readBefore = before.Skip(1).ToList();
        Assert.All(readBefore, c => Assert.Equal(ChangeOperation.Read, c.Operation));

        await using var second = ChangeCaptureFactory.Create(source, ConnectionSettings.Parse(db), Options(mode));
        // The rows not read before must come; anything past them would be a row read twice.
        var after = await CaptureHarness.TakeAllAsync(second, 30000 - readBefore.Select(c => Row(c).Id).Distinct().Count());
        Assert.All(after, c => Assert.Equal(ChangeOperation.Read, c.Operation));
        var ids = readBefore.Concat(after).Select(c => Row(c).Id).ToHashSet();
        output.WriteLine($"before {readBefore.Count}, after {after.Count}, distinct {ids.Count}");
        Assert.True(Enumerable.Range(1, 30000).All(ids.Contains), "a row was never read");
        // Resumed, not started over: the second capture did not read the first acknowledged rows again.
        Assert.DoesNotContain(after, c => Row(c).Id <= 1000);
    }

    [Fact]
    public async Task NotifyHasNoBackfillAndSaysWhy()
    {
        var db = await database.CreateDatabaseAsync("bfnotify");
        var source = CaptureHarness.Source(CaptureMode.Notify, "items");
        var error = await Assert.ThrowsAsync<NotSupportedException>(() =>
            Backfill.RequestAsync(source, ConnectionSettings.Parse(db), null, CancellationToken.None));
        Assert.Contains("Durable or Logical", error.Message, StringComparison.Ordinal);
    }
}
