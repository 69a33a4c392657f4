using System.Text.Json;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.TestSupport;
using PostgresSource.Core.Capture;

namespace PostgresSource.Core.Tests;

[Collection(DatabaseCollection.Name)]
public sealed class NotifyInstallTests(DatabaseFixture database)
{
    private const string Uid = "d049318d-72c6-45e3-b8be-b0d4a38e82ad";
    private const string SeedName = "postgressource_mypostgres_d049318d_72c6_45e3_b8be_b0d4a38e82ad";

    private static SourceDefinition Source(params string[] tables) =>
        new SourceDefinition { Name = "mypostgres", Uid = Uid, Tables = tables.Select(TableName.Parse).ToList() }.Validate();

    private static async Task<SchemaSession> InstallAsync(SourceDefinition source, string connectionString)
    {
        var session = await SourceSchema.PlanInstallAsync(source, ConnectionSettings.Parse(connectionString));
        await session.ApplyAsync();
        return session;
    }

    [Fact]
    public async Task InstallCreatesSeedNamedObjectsAndNotifiesEveryOperation()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY, item text, qty int)");

        await using (var session = await InstallAsync(Source("orders"), db))
        {
            Assert.Equal([SchemaChangeKind.CreateFunction, SchemaChangeKind.CreateTrigger, SchemaChangeKind.CreateTrigger], session.Changes.Select(c => c.Kind));
        }

        // The row trigger keeps the seed's name; the TRUNCATE trigger's name is made by the same rule (hashed when long).
        Assert.Equal(new[] { "function " + SeedName, "trigger " + SeedName, "trigger " + CaptureTriggers.TruncateName(SeedName) }.Order(StringComparer.Ordinal),
            (await TestSql.SourceObjectsAsync(db)).Order(StringComparer.Ordinal));
        Assert.Equal("public", await TestSql.ScalarAsync<string>(db,
            "SELECT n.nspname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = @n", ("n", SeedName)));

        await using var listener = await NotificationCollector.ListenAsync(db, SeedName);
        await TestSql.ExecuteAsync(db, "INSERT INTO orders VALUES (1, 'apple', 3)");
        await TestSql.ExecuteAsync(db, "UPDATE orders SET qty = 4 WHERE id = 1");
        await TestSql.ExecuteAsync(db, "DELETE FROM orders WHERE id = 1");

        var insert = Parse(listener.Next(TimeSpan.FromSeconds(5)));
        var update = Parse(listener.Next(TimeSpan.FromSeconds(5)));
        var delete = Parse(listener.Next(TimeSpan.FromSeconds(5)));

        Assert.Equal("orders", insert.GetProperty("table").GetString());
        Assert.Equal("INSERT", insert.GetProperty("action").GetString());
        Assert.Equal(3, insert.GetProperty("data").GetProperty("qty").GetInt32());
        Assert.Equal("UPDATE", update.GetProperty("action").GetString());
        Assert.Equal(4, update.GetProperty("data").GetProperty("qty").GetInt32());
        // DELETE carries the OLD row.
        Assert.Equal("DELETE", delete.GetProperty("action").GetString());
        Assert.Equal(4, delete.GetProperty("data").GetProperty("qty").GetInt32());
        Assert.Equal("apple", delete.GetProperty("data").GetProperty("item").GetString());
        Assert.Equal("public", delete.GetProperty("schema").GetString());
    }

    [Fact]
    public async Task SecondInstallPlansNothing()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY)");
        await (await InstallAsync(Source("orders"), db)).DisposeAsync();

        await using var second = await SourceSchema.PlanInstallAsync(Source("orders"), ConnectionSettings.Parse(db));
        Assert.False(second.HasChanges);
    }

    [Fact]
    public async Task UninstallLeavesNoTraceAndOnlyTouchesItsSource()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY); CREATE TABLE items (id int)");
        await (await InstallAsync(Source("orders", "items"), db)).DisposeAsync();
        var other = new SourceDefinition { Name = "other", Tables = [TableName.Parse("orders")] }.Validate();
        await (await InstallAsync(other, db)).DisposeAsync();

        await using (var uninstall = await SourceSchema.PlanUninstallAsync(Source("orders"), ConnectionSettings.Parse(db)))
        {
            // Both tables' triggers go, even though this definition names only one: the catalog says what is there.
            Assert.Equal(5, uninstall.Changes.Count); // two triggers (row, TRUNCATE) on each table, and the function
            await uninstall.ApplyAsync();
        }

        Assert.Equal(["function postgressource_other", "trigger postgressource_other", "trigger postgressource_other_truncate"], await TestSql.SourceObjectsAsync(db));
        await using var again = await SourceSchema.PlanUninstallAsync(Source("orders"), ConnectionSettings.Parse(db));
        Assert.False(again.HasChanges);
    }

    [Fact]
    public async Task MissingTableChangesNothingAndNamesTheTable()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY)");
        var ex = await Assert.ThrowsAsync<MissingTablesException>(() => SourceSchema.PlanInstallAsync(Source("orders", "nosuchtable"), ConnectionSettings.Parse(db)));
        Assert.Equal(["nosuchtable"], ex.Tables);
        Assert.Contains("nosuchtable", ex.Message);
        Assert.Empty(await TestSql.SourceObjectsAsync(db));
    }

    [Fact]
    public async Task HostileNameIsJustAMissingTable()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY); CREATE TABLE x (id int)");
        const string hostile = "orders\"; DROP TABLE x; --";
        var ex = await Assert.ThrowsAsync<MissingTablesException>(() => SourceSchema.PlanInstallAsync(Source(hostile), ConnectionSettings.Parse(db)));
        Assert.Equal([hostile], ex.Tables);
        Assert.Equal(1L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_class WHERE relname = 'x'"));
        Assert.Empty(await TestSql.SourceObjectsAsync(db));
    }

    [Fact]
    public async Task MixedCaseSpacesAndSchemasWork()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, """
            CREATE SCHEMA "Sales Data";
            CREATE TABLE "Sales Data"."Order Lines" (id int PRIMARY KEY, "Qty" int);
            CREATE SCHEMA inventory;
            CREATE TABLE inventory.stock (id int PRIMARY KEY);
            """);
        await (await InstallAsync(Source("\"Sales Data\".\"Order Lines\"", "inventory.stock"), db)).DisposeAsync();

        await using var listener = await NotificationCollector.ListenAsync(db, SeedName);
        await TestSql.ExecuteAsync(db, "INSERT INTO \"Sales Data\".\"Order Lines\" VALUES (7, 2)");
        await TestSql.ExecuteAsync(db, "INSERT INTO inventory.stock VALUES (9)");
        var first = Parse(listener.Next(TimeSpan.FromSeconds(5)));
        var second = Parse(listener.Next(TimeSpan.FromSeconds(5)));
        Assert.Equal("Order Lines", first.GetProperty("table").GetString());
        Assert.Equal("Sales Data", first.GetProperty("schema").GetString());
        Assert.Equal(2, first.GetProperty("data").GetProperty("Qty").GetInt32());
        Assert.Equal("stock", second.GetProperty("table").GetString());
        Assert.Equal("inventory", second.GetProperty("schema").GetString());
    }

    [Fact]
    public async Task UnquotedNameFindsFoldedTable()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int)");
        await using var session = await SourceSchema.PlanInstallAsync(Source("Orders"), ConnectionSettings.Parse(db));
        Assert.Equal("orders", Assert.Single(session.Tables).Name);
    }

    [Fact]
    public async Task RowTooBigForNotifyStillCommitsAndSendsTheKey()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE docs (id int PRIMARY KEY, body text)");
        await (await InstallAsync(Source("docs"), db)).DisposeAsync();
        await using var listener = await NotificationCollector.ListenAsync(db, SeedName);

        await TestSql.ExecuteAsync(db, "INSERT INTO docs VALUES (42, repeat('x', 1000000))");

        Assert.Equal(1000000, await TestSql.ScalarAsync<int>(db, "SELECT length(body) FROM docs WHERE id = 42"));
        var payload = Parse(listener.Next(TimeSpan.FromSeconds(5)));
        Assert.True(payload.GetProperty("truncated").GetBoolean());
        Assert.Equal(42, payload.GetProperty("data").GetProperty("id").GetInt32());
        Assert.False(payload.GetProperty("data").TryGetProperty("body", out _));
    }

    [Fact]
    public async Task ReplacesTheGoControllersFunctionInPlace()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, $$"""
            CREATE TABLE orders (id int);
            CREATE OR REPLACE FUNCTION {{SeedName}}() RETURNS TRIGGER AS $$
            DECLARE data json; notification json;
            BEGIN
              IF (TG_OP = 'DELETE') THEN data = row_to_json(OLD); ELSE data = row_to_json(NEW); END IF;
              notification = json_build_object('table',TG_TABLE_NAME, 'action', TG_OP, 'data', data);
              PERFORM pg_notify('{{SeedName}}',notification::text);
              RETURN NULL;
            END;
            $$ LANGUAGE plpgsql;
            CREATE TRIGGER {{SeedName}} AFTER INSERT OR UPDATE OR DELETE ON orders FOR EACH ROW EXECUTE PROCEDURE {{SeedName}}();
            """);
        var seen = await TriggerInspector.ListAsync(ConnectionSettings.Parse(db));
        var row = Assert.Single(seen);
        Assert.Equal("mypostgres", row.SourceName);
        Assert.Equal(Uid, row.Uid);
        Assert.Equal("Seed", row.Flavor);
        Assert.Equal(["INSERT", "UPDATE", "DELETE"], row.Operations);

        await using var session = await InstallAsync(Source("orders"), db);
        // The controller made no TRUNCATE trigger: it is added beside the row trigger the controller made.
        Assert.Equal([SchemaChangeKind.ReplaceFunction, SchemaChangeKind.CreateTrigger], session.Changes.Select(c => c.Kind));
        // Install output says the seed's function is being replaced by the safe one, and why.
        var note = Assert.Single(session.Notes);
        Assert.Contains("search_path", note);
        Assert.Contains("pins its search_path", note);
        Assert.Equal("Notify", Assert.Single(await TriggerInspector.ListAsync(ConnectionSettings.Parse(db))).Flavor);
    }

    [Fact]
    public async Task ScriptQuotesNamesAndHasNoPassword()
    {
        var source = Source("\"We\"\"ird\".orders") with { Connection = ConnectionSettings.Parse("Host=h;Username=u;Password=TopSecret99") };
        var script = SourceSchema.ScriptInstall(source);
        Assert.Contains("ON \"We\"\"ird\".\"orders\"", script);
        Assert.Contains($"pg_notify('{SeedName}'", script);
        Assert.DoesNotContain("TopSecret99", script);
        Assert.StartsWith("-- PostgresSource install", script);
    }

    [Fact]
    public async Task ScriptRunsAgainstARealDatabase()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int)");
        var script = SourceSchema.ScriptInstall(Source("orders"));
        await TestSql.ExecuteAsync(db, script);
        await TestSql.ExecuteAsync(db, script); // idempotent
        await using var plan = await SourceSchema.PlanInstallAsync(Source("orders"), ConnectionSettings.Parse(db));
        Assert.False(plan.HasChanges);
    }

    private static JsonElement Parse(string? payload)
    {
        Assert.NotNull(payload);
        return JsonDocument.Parse(payload).RootElement;
    }
}
