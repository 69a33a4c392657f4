using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Capture.Durable;
using PostgresSource.Core.Capture.Logical;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Tests.Capture;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Core.Tests.Snapshots;

[Collection(DatabaseCollection.Name)]
public sealed class SnapshotTests(DatabaseFixture database, ITestOutputHelper output)
{
    [Fact]
    public async Task DurableSnapshotInterruptedHalfwayResumesWithEveryRowOnceAndEveryChange()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, SnapshotScenario.Setup);
        var source = CaptureHarness.Source(CaptureMode.Durable, "items");
        var plan = await CaptureHarness.InstallAsync(source, db, new InstallOptions { Snapshot = true });
        Assert.Contains(plan, c => c.Kind == SchemaChangeKind.RequestSnapshot);

        await new SnapshotScenario(output).RunAsync(db, progress => new DurableCapture(source, ConnectionSettings.Parse(db),
            new CaptureOptions { SnapshotProgress = progress, JournalPollInterval = TimeSpan.FromMilliseconds(300), SnapshotChunkSize = 5000 }));

        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, $"SELECT count(*) FROM \"{source.DatabaseObjectName}\".journal"));
    }

    [Fact]
    public async Task LogicalSnapshotInterruptedHalfwayResumesWithEveryRowOnceAndEveryChange()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, SnapshotScenario.Setup);
        var source = CaptureHarness.Source(CaptureMode.Logical, "items");
        await CaptureHarness.InstallAsync(source, db);

        // Asked for by the capture rather than at install.
        await new SnapshotScenario(output).RunAsync(db, progress => new LogicalCapture(source, ConnectionSettings.Parse(db),
            LogicalTestsOptions.Fast with { Snapshot = true, SnapshotProgress = progress, SnapshotChunkSize = 5000 }));
    }

    /// <summary>A partitioned table keeps no rows itself: its snapshot reads every partition (it read ONLY the parent: empty).</summary>
    [Fact]
    public async Task APartitionedTablesSnapshotReadsEveryPartition()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, """
            CREATE TABLE events (id int NOT NULL, region text NOT NULL, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
            CREATE TABLE events_eu PARTITION OF events FOR VALUES IN ('eu');
            CREATE TABLE events_us PARTITION OF events FOR VALUES IN ('us');
            INSERT INTO events SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END FROM generate_series(1, 30) g;
            ANALYZE events_eu, events_us;
            """);
        var source = CaptureHarness.Source(CaptureMode.Durable, "events");
        await CaptureHarness.InstallAsync(source, db, new InstallOptions { Snapshot = true });
        await using var capture = new DurableCapture(source, ConnectionSettings.Parse(db),
            new CaptureOptions { Snapshot = true, JournalPollInterval = TimeSpan.FromMilliseconds(200), SnapshotChunkSize = 7 });

        var rows = await CaptureHarness.TakeAsync(capture, 30, TimeSpan.FromSeconds(60));

        Assert.All(rows, r => Assert.Equal(ChangeOperation.Read, r.Operation));
        Assert.Equal(Enumerable.Range(1, 30), rows.Select(r => CaptureHarness.Payload(r).GetProperty("data").GetProperty("id").GetInt32()).Order());
        Assert.All(rows, r => Assert.Equal("events", r.Table));
        await using var connection = new Npgsql.NpgsqlConnection(db);
        await connection.OpenAsync();
        var oid = await TestSql.ScalarAsync<uint>(db, "SELECT 'public.events'::regclass::oid");
        var table = await Core.Capture.Snapshots.SnapshotTable.LoadAsync(connection, new ResolvedTable("public", "events", oid), CancellationToken.None);
        Assert.True(table.Partitioned);
        Assert.Equal(30, table.EstimatedRows);
    }

    /// <summary>The listener and the adapter set progress on <see cref="CaptureOptions"/>: it must reach the capture, also behind the standby wrapper.</summary>
    [Theory]
    [InlineData(CaptureMode.Durable, false)]
    [InlineData(CaptureMode.Durable, true)]
    [InlineData(CaptureMode.Logical, false)]
    public async Task ProgressSetOnCaptureOptionsReachesTheCaptureThroughTheFactory(CaptureMode mode, bool singleActive)
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 1500); ANALYZE items;");
        var source = CaptureHarness.Source(mode, "items");
        await CaptureHarness.InstallAsync(source, db);
        var reports = new System.Collections.Concurrent.ConcurrentQueue<Core.Capture.Snapshots.SnapshotProgress>();

        await using (var capture = ChangeCaptureFactory.Create(source, ConnectionSettings.Parse(db),
            new CaptureOptions { Snapshot = true, SingleActive = singleActive, SnapshotProgress = new QueueProgress(reports) }))
        {
            // One more than the rows: the capture must read past the last row, so the table is reported done.
            var taken = CaptureHarness.TakeAsync(capture, 1501, TimeSpan.FromSeconds(60));
            await WaitUntilAsync(() => reports.Any(r => r.TableDone), TimeSpan.FromSeconds(60));
            await TestSql.ExecuteAsync(db, "INSERT INTO items VALUES (1501)");
            await taken;
        }

        Assert.NotEmpty(reports);
        Assert.All(reports, r => Assert.Equal(("public", "items", 1, 1), (r.Schema, r.Table, r.TableNumber, r.TableCount)));
        Assert.Equal(reports.Select(r => r.RowsRead).Order(), reports.Select(r => r.RowsRead));
        var last = reports.Last();
        Assert.True(last.TableDone);
        Assert.Equal(1500, last.RowsRead);
        Assert.Equal(1500, last.EstimatedRows);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(20);
        }
    }

    /// <summary>Records reports synchronously, in the order the capture made them.</summary>
    private sealed class QueueProgress(System.Collections.Concurrent.ConcurrentQueue<Core.Capture.Snapshots.SnapshotProgress> queue)
        : IProgress<Core.Capture.Snapshots.SnapshotProgress>
    {
        public void Report(Core.Capture.Snapshots.SnapshotProgress value) => queue.Enqueue(value);
    }
}

internal static class LogicalTestsOptions
{
    public static CaptureOptions Fast => Logical.LogicalCaptureTests.Fast;
}

[Collection(DatabaseCollection.Name)]
public sealed class SnapshotSeamTests(DatabaseFixture database, ITestOutputHelper output)
{
    /// <summary>
    /// Writers change both tables (one without a primary key) while the snapshot reads them: at the end the
    /// consumer's copy equals the tables, and a second start does not take the snapshot again.
    /// </summary>
    [Theory]
    [InlineData(CaptureMode.Durable)]
    [InlineData(CaptureMode.Logical)]
    public async Task SnapshotAndStreamMeetWithoutGapOrDoubleWhileWritersRun(CaptureMode mode)
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, """
            CREATE TABLE keyed (id int PRIMARY KEY, n int NOT NULL);
            CREATE TABLE loose (id int NOT NULL, n int NOT NULL);
            INSERT INTO keyed SELECT g, 0 FROM generate_series(1, 20000) g;
            INSERT INTO loose SELECT g, 0 FROM generate_series(1, 5000) g;
            """);
        var source = CaptureHarness.Source(mode, "keyed", "loose");
        await CaptureHarness.InstallAsync(source, db, new InstallOptions { Snapshot = true, ReplicaIdentityFull = true });
        var options = LogicalTestsOptions.Fast with { JournalPollInterval = TimeSpan.FromMilliseconds(300), SnapshotChunkSize = 2000 };
        IChangeCapture Create() => source.Mode == CaptureMode.Durable
            ? new Core.Capture.Durable.DurableCapture(source, Core.Connections.ConnectionSettings.Parse(db), options)
            : new Core.Capture.Logical.LogicalCapture(source, Core.Connections.ConnectionSettings.Parse(db), options);

        var keyed = new Dictionary<int, int>();
        var loose = new Dictionary<int, int>();
        var reads = 0;
        var changes = 0;
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            var random = new Random(7);
            for (var i = 0; i < 300 && !stop.IsCancellationRequested; i++)
            {
                var id = random.Next(1, 20000);
                await TestSql.ExecuteAsync(db, $"UPDATE keyed SET n = n + 1 WHERE id = {id}; UPDATE loose SET n = n + 1 WHERE id = {id % 5000 + 1}; " +
                                               $"INSERT INTO keyed VALUES ({20000 + i + 1}, 1); DELETE FROM keyed WHERE id = {20000 - i}");
            }
        });

        await using (var capture = Create())
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            await using var enumerator = capture.ReadAllAsync(cts.Token).GetAsyncEnumerator(cts.Token);
            while (true)
            {
                var next = enumerator.MoveNextAsync().AsTask();
                // Done once nothing came for 3 s counted from after the writer finished. Checked while waiting, not
                // only before: the last change can arrive before the writer's task is seen completed.
                while (true)
                {
                    var writerDone = writer.IsCompleted;
                    if (await Task.WhenAny(next, Task.Delay(3000)) == next || writerDone)
                    {
                        break;
                    }
                }
                if (!next.IsCompleted)
                {
                    cts.Cancel();
                    await Assert.ThrowsAnyAsync<OperationCanceledException>(() => next);
                    break;
                }
                Assert.True(await next);
                var change = enumerator.Current;
                var data = System.Text.Json.JsonDocument.Parse(change.PayloadJson).RootElement.GetProperty("data");
                var target = change.Table == "keyed" ? keyed : loose;
                var id = data.GetProperty("id").GetInt32();
                if (change.Operation == ChangeOperation.Read)
                {
                    reads++;
                    Assert.False(target.ContainsKey(id), $"{change.Table} {id} read twice");
                }
                else
                {
                    changes++;
                }
                if (change.Operation == ChangeOperation.Delete)
                {
                    target.Remove(id);
                }
                else
                {
                    target[id] = data.GetProperty("n").GetInt32();
                }
                await capture.AcknowledgeAsync(change, cts.Token);
            }
        }
        await writer;
        output.WriteLine($"{mode}: {reads} rows read, {changes} changes streamed");

        Assert.Equal(await TableAsync(db, "keyed"), keyed.OrderBy(p => p.Key).ToList());
        Assert.Equal(await TableAsync(db, "loose"), loose.OrderBy(p => p.Key).ToList());

        // Started again, the capture streams only new changes: the snapshot is done.
        await TestSql.ExecuteAsync(db, "UPDATE keyed SET n = -1 WHERE id = 1");
        await using var again = Create();
        var next2 = await CaptureHarness.TakeAsync(again, 1);
        Assert.Equal(ChangeOperation.Update, next2[0].Operation);
    }

    private static async Task<List<KeyValuePair<int, int>>> TableAsync(string db, string table)
    {
        var rows = new List<KeyValuePair<int, int>>();
        await using var connection = new Npgsql.NpgsqlConnection(db);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand($"SELECT id, n FROM {table} ORDER BY id", connection);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(new(reader.GetInt32(0), reader.GetInt32(1)));
        }
        return rows;
    }
}
