using PostgresSource.Core.Capture;
using PostgresSource.Core.Capture.Durable;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Tests.Capture;
using PostgresSource.Core.Tests.Logical;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Core.Tests.Partitions;

/// <summary>
/// A partitioned table is captured through its parent in every mode: changes in any partition, one attached while the
/// source runs included, are events named by the parent; uninstalling leaves no trigger on any partition.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class PartitionedTableTests(DatabaseFixture database, ITestOutputHelper output)
{
    [Theory]
    [InlineData(CaptureMode.Notify)]
    [InlineData(CaptureMode.Durable)]
    [InlineData(CaptureMode.Logical)]
    public async Task ChangesInEveryPartitionAreEventsOfTheParentAlsoForAPartitionAttachedLater(CaptureMode mode)
    {
        var db = await database.CreateDatabaseAsync("part");
        await TestSql.ExecuteAsync(db, """
            CREATE TABLE measurements (id int, region text, reading int, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
            CREATE TABLE measurements_eu PARTITION OF measurements FOR VALUES IN ('eu');
            """);
        var source = CaptureHarness.Source(mode, "measurements");
        var installed = await CaptureHarness.InstallAsync(source, db);
        output.WriteLine(string.Join("\n", installed.Select(c => c.Describe())));
        // Idempotent: the objects as installed are what the plan wants (trigger arguments, publication option).
        Assert.Empty(await CaptureHarness.InstallAsync(source, db));

        var options = mode == CaptureMode.Logical ? LogicalCaptureTests.Fast : new CaptureOptions { JournalPollInterval = TimeSpan.FromMilliseconds(50) };
        await using var capture = ChangeCaptureFactory.Create(source, ConnectionSettings.Parse(db), options);
        var taking = CaptureHarness.TakeAsync(capture, 3);
        await CaptureHarness.WaitUntilReadyAsync(capture);

        await TestSql.ExecuteAsync(db, "INSERT INTO measurements VALUES (1, 'eu', 10)");
        // Attached while the source runs: created apart, then attached (the usual way to add a partition without a long lock).
        await TestSql.ExecuteAsync(db, """
            CREATE TABLE measurements_us (LIKE measurements INCLUDING ALL);
            ALTER TABLE measurements ATTACH PARTITION measurements_us FOR VALUES IN ('us');
            INSERT INTO measurements VALUES (2, 'us', 20);
            UPDATE measurements SET reading = 21 WHERE id = 2;
            """);
        var changes = await taking;

        Assert.Equal([ChangeOperation.Insert, ChangeOperation.Insert, ChangeOperation.Update], changes.Select(c => c.Operation));
        Assert.All(changes, c => Assert.Equal(("public", "measurements"), (c.Schema, c.Table)));
        Assert.All(changes, c => Assert.Equal("measurements", CaptureHarness.Payload(c).GetProperty("table").GetString()));
        Assert.Equal(21, CaptureHarness.Payload(changes[2]).GetProperty("data").GetProperty("reading").GetInt32());

        await capture.DisposeAsync();
        await CaptureHarness.UninstallAsync(source, db);
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal"));
    }

    /// <summary>
    /// An earlier version made the parent's row trigger without arguments (its events named the partitions): the next
    /// install replaces exactly that trigger, and the events name the parent from then on.
    /// </summary>
    [Theory]
    [InlineData(CaptureMode.Notify)]
    [InlineData(CaptureMode.Durable)]
    public async Task ATriggerWithoutTheParentsNamesIsReplacedByTheNextInstall(CaptureMode mode)
    {
        var db = await database.CreateDatabaseAsync("partup");
        await TestSql.ExecuteAsync(db, """
            CREATE TABLE measurements (id int, region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
            CREATE TABLE measurements_eu PARTITION OF measurements FOR VALUES IN ('eu');
            """);
        var source = CaptureHarness.Source(mode, "measurements");
        await CaptureHarness.InstallAsync(source, db);
        var name = source.DatabaseObjectName;
        var function = mode == CaptureMode.Notify ? Sql.Qualified("public", name) : DurableJournalSql.FunctionQualified(name);
        await TestSql.ExecuteAsync(db, $"""
            DROP TRIGGER {Sql.Identifier(name)} ON measurements;
            CREATE TRIGGER {Sql.Identifier(name)} AFTER INSERT OR UPDATE OR DELETE ON measurements FOR EACH ROW EXECUTE FUNCTION {function}();
            """);

        var again = await CaptureHarness.InstallAsync(source, db);
        var change = Assert.Single(again);
        Assert.Equal(SchemaChangeKind.ReplaceTrigger, change.Kind);
        Assert.Equal("public.measurements", change.Target);
        Assert.Equal(2L, await TestSql.ScalarAsync<long>(db,
            $"SELECT tgnargs::bigint FROM pg_trigger WHERE tgname = '{name}' AND tgrelid = 'measurements'::regclass"));
        Assert.Empty(await CaptureHarness.InstallAsync(source, db));
    }
}
