using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.TestSupport;

namespace PostgresSource.Core.Tests.Capture;

/// <summary>A UID's spelling never changes what install creates, and a bad UID changes nothing at all.</summary>
[Collection(DatabaseCollection.Name)]
public sealed class UidSpellingInstallTests(DatabaseFixture database)
{
    private static SourceDefinition Source(string name, string uid, CaptureMode mode) =>
        new SourceDefinition { Name = name, Uid = uid, Mode = mode, Tables = [new TableName(null, "orders")] };

    [Fact]
    public async Task UppercaseAndBracedUidsInstallTheObjectsOfTheLowercaseOne()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY)");
        var uid = Guid.NewGuid().ToString("D");
        var name = "src" + Guid.NewGuid().ToString("N")[..8];
        var expected = Source(name, uid, CaptureMode.Logical).DatabaseObjectName;
        Assert.Contains(uid.Replace('-', '_'), expected);

        await CaptureHarness.InstallAsync(Source(name, uid.ToUpperInvariant(), CaptureMode.Logical), db);
        Assert.Equal(expected, await TestSql.ScalarAsync<string>(db, "SELECT pubname::text FROM pg_publication"));
        Assert.Equal(expected, await TestSql.ScalarAsync<string>(db, "SELECT slot_name::text FROM pg_replication_slots WHERE database = current_database()"));

        // The braced and the lowercase spelling find the same objects: nothing more to do.
        foreach (var spelling in new[] { "{" + uid.ToUpperInvariant() + "}", uid, uid.Replace("-", "") })
        {
            await using var again = await SourceSchema.PlanInstallAsync(Source(name, spelling, CaptureMode.Logical), ConnectionSettings.Parse(db));
            Assert.False(again.HasChanges, spelling);
        }
        await CaptureHarness.UninstallAsync(Source(name, "{" + uid + "}", CaptureMode.Logical), db);
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()"));
    }

    [Theory]
    [InlineData(CaptureMode.Logical)]
    [InlineData(CaptureMode.Durable)]
    [InlineData(CaptureMode.Notify)]
    public async Task ABadUidFailsBeforeAnythingIsCreated(CaptureMode mode)
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY)");
        var source = Source("src" + Guid.NewGuid().ToString("N")[..8], "urn:uuid:" + Guid.NewGuid(), mode);

        var error = await Assert.ThrowsAsync<SourceValidationException>(() => CaptureHarness.InstallAsync(source, db));
        Assert.Equal("uid", error.Field);

        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_publication"));
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()"));
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'postgressource%'"));
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_proc WHERE proname LIKE 'postgressource%'"));
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal"));
    }
}
