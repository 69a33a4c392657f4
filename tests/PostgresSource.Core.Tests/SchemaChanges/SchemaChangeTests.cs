using System.Text.Json;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Events;
using PostgresSource.Core.Listening;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Tests.Capture;
using PostgresSource.Core.Tests.Listener;
using PostgresSource.Core.Tests.Logical;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Core.Tests.SchemaChanges;

/// <summary>
/// ALTER TABLE while a source runs, in every mode, through the listener as the hosts build it: columns added, dropped
/// and renamed, a type changed, the table renamed, then dropped. Nothing crashes or is lost, events carry the new
/// shape, each change of shape is reported once, and the rename and the drop are reported (and counted).
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class SchemaChangeTests(DatabaseFixture database, ITestOutputHelper output)
{
    [Theory]
    [InlineData(CaptureMode.Notify)]
    [InlineData(CaptureMode.Durable)]
    [InlineData(CaptureMode.Logical)]
    public async Task EveryChangeArrivesInTheTablesShapeOfItsTimeAndEachAlterationIsReportedOnce(CaptureMode mode)
    {
        var db = await database.CreateDatabaseAsync("ddl");
        await TestSql.ExecuteAsync(db, "CREATE TABLE items (id int PRIMARY KEY, name text, qty int)");
        var source = CaptureHarness.Source(mode, "items");
        await CaptureHarness.InstallAsync(source, db);

        var records = new List<EventRecord>();
        var reports = new List<ListenerReport>();
        var settings = new ListenerSettings
        {
            Listener = ListenerOptions.Default with { TableCheckInterval = TimeSpan.FromMilliseconds(300) },
            Capture = mode == CaptureMode.Logical ? LogicalCaptureTests.Fast : new CaptureOptions { JournalPollInterval = TimeSpan.FromMilliseconds(50) },
        };
        await using var listener = ListenerBuilder.Build(source, ConnectionSettings.Parse(db), settings,
            new CallbackSink((record, _) => { lock (records) records.Add(record); return ValueTask.CompletedTask; }));
        listener.Reported += r => { lock (reports) reports.Add(r); };
        using var stop = new CancellationTokenSource();
        var run = listener.RunAsync(stop.Token);
        Assert.True(await ListenerHarness.EventuallyAsync(() => listener.Capture.IsReady, TimeSpan.FromSeconds(20)));

        async Task Step(string sql, int events)
        {
            await TestSql.ExecuteAsync(db, sql);
            Assert.True(await ListenerHarness.EventuallyAsync(() => { lock (records) return records.Count >= events; }, TimeSpan.FromSeconds(20)),
                $"after {sql}: {records.Count} events; reports: {string.Join(" | ", reports.Select(r => r.Message))}");
        }
        await Step("INSERT INTO items VALUES (1, 'a', 1)", 1);
        await Step("ALTER TABLE items ADD COLUMN color text; INSERT INTO items VALUES (2, 'b', 2, 'red')", 2);
        await Step("ALTER TABLE items DROP COLUMN qty; INSERT INTO items VALUES (3, 'c', 'blue')", 3);
        await Step("ALTER TABLE items RENAME COLUMN name TO title; UPDATE items SET title = 'cc' WHERE id = 3", 4);
        await Step("ALTER TABLE items ALTER COLUMN id TYPE bigint; INSERT INTO items VALUES (4000000000, 'd', 'green')", 5);
        await Step("ALTER TABLE items RENAME TO goods; INSERT INTO goods VALUES (6, 'e', 'grey')", 6);
        Assert.True(await ListenerHarness.EventuallyAsync(() => { lock (reports) return reports.Any(r => r.Message.Contains("renamed to public.goods")); }, TimeSpan.FromSeconds(10)),
            string.Join(" | ", reports.Select(r => $"{r.Kind}: {r.Message}")) + $"; missing {listener.Statistics.TablesMissing}; last error {listener.Statistics.LastError}");
        await TestSql.ExecuteAsync(db, "DROP TABLE goods");
        Assert.True(await ListenerHarness.EventuallyAsync(() => { lock (reports) return reports.Any(r => r.Message.Contains("was dropped")); }, TimeSpan.FromSeconds(10)));
        stop.Cancel();
        await run;

        static string[] Columns(EventRecord r) => [.. JsonDocument.Parse(r.DataJson!).RootElement.GetProperty("data").EnumerateObject().Select(p => p.Name)];
        Assert.Equal(6, records.Count);
        Assert.Equal(["id", "name", "qty"], Columns(records[0]));
        Assert.Equal(["id", "name", "qty", "color"], Columns(records[1]));
        Assert.Equal(["id", "name", "color"], Columns(records[2]));
        Assert.Equal(["id", "title", "color"], Columns(records[3]));
        Assert.Equal(4000000000L, JsonDocument.Parse(records[4].DataJson!).RootElement.GetProperty("data").GetProperty("id").GetInt64());
        Assert.Equal(["items", "items", "items", "items", "items", "goods"], records.Select(r => r.Table));

        var changes = reports.Where(r => r.Kind == ListenerReportKind.TableChanged).Select(r => r.Message).ToList();
        output.WriteLine(string.Join("\n", changes));
        Assert.Single(changes, m => m.Contains("column color added", StringComparison.Ordinal));
        Assert.Single(changes, m => m.Contains("column qty removed", StringComparison.Ordinal));
        Assert.Single(changes, m => m.Contains("column title added", StringComparison.Ordinal) && m.Contains("column name removed", StringComparison.Ordinal));
        Assert.Single(changes, m => m.Contains("Table public.items was renamed to public.goods", StringComparison.Ordinal));
        Assert.Single(changes, m => m.Contains("Table public.items was dropped", StringComparison.Ordinal));
        Assert.Equal(1, listener.Statistics.TablesMissing);
        Assert.Equal(changes.Count, (int)listener.Statistics.TableChanges);
    }

    /// <summary>A partitioned table renamed while a trigger-mode source runs: its writes keep working and its events name it by its new name.</summary>
    [Theory]
    [InlineData(CaptureMode.Notify)]
    [InlineData(CaptureMode.Durable)]
    public async Task ARenamedPartitionedTableKeepsItsWritesWorkingAndItsEventsNameItsNewName(CaptureMode mode)
    {
        var db = await database.CreateDatabaseAsync("ddlpart");
        await TestSql.ExecuteAsync(db, """
            CREATE TABLE readings (id int, region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
            CREATE TABLE readings_eu PARTITION OF readings FOR VALUES IN ('eu');
            """);
        var source = CaptureHarness.Source(mode, "readings");
        await CaptureHarness.InstallAsync(source, db);
        await using var capture = ChangeCaptureFactory.Create(source, ConnectionSettings.Parse(db), new CaptureOptions { JournalPollInterval = TimeSpan.FromMilliseconds(50) });
        var taking = CaptureHarness.TakeAsync(capture, 2);
        await CaptureHarness.WaitUntilReadyAsync(capture);
        await TestSql.ExecuteAsync(db, "INSERT INTO readings VALUES (1, 'eu')");
        await TestSql.ExecuteAsync(db, "ALTER TABLE readings RENAME TO measurements; INSERT INTO measurements VALUES (2, 'eu')");
        var changes = await taking;
        Assert.Equal(["readings", "measurements"], changes.Select(c => c.Table));
    }
}

[Collection(DatabaseCollection.Name)]
public sealed class WatchedTablesTests(DatabaseFixture database)
{
    [Fact]
    public async Task ARenameAndADropAreEachReportedOnce()
    {
        var db = await database.CreateDatabaseAsync("watch");
        await TestSql.ExecuteAsync(db, "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY)");
        var watch = new WatchedTables(CaptureHarness.Source(CaptureMode.Notify, "a", "b", "c"), ConnectionSettings.Parse(db));
        var first = await watch.CheckAsync(CancellationToken.None);
        Assert.Contains("Table c, which source", Assert.Single(first), StringComparison.Ordinal);
        Assert.Equal(1, watch.Missing);
        await TestSql.ExecuteAsync(db, "ALTER TABLE a RENAME TO a2; DROP TABLE b");
        var second = await watch.CheckAsync(CancellationToken.None);
        Assert.Equal(2, second.Count);
        Assert.Contains(second, m => m.Contains("Table public.a was renamed to public.a2", StringComparison.Ordinal));
        Assert.Contains(second, m => m.Contains("Table public.b was dropped", StringComparison.Ordinal));
        Assert.Equal(3, watch.Missing);
        Assert.Empty(await watch.CheckAsync(CancellationToken.None));
    }
}
