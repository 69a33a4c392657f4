using System.Security.Cryptography;
using System.Text;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Tests.Capture;
using PostgresSource.Core.Tests.Logical;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Core.Tests.Filters;

/// <summary>
/// Table filters in every mode against a real server: operations, columns (include, exclude, mask) and a row condition,
/// pushed into the database where it can take them (trigger event lists and WHEN clauses, the publication's publish
/// option, row filter and column list), shown by the listing, checked at install, and applied to snapshot rows too.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class TableFilterTests(DatabaseFixture database, ITestOutputHelper output)
{
    private const string Tables = """
        CREATE TABLE customers (id int PRIMARY KEY, name text, email text, note text);
        CREATE TABLE orders (id int PRIMARY KEY, total int, secret text);
        """;

    private static SourceDefinition Filtered(CaptureMode mode, params TableFilter[] filters) =>
        CaptureHarness.Source(mode, "customers", "orders") with { Filters = filters };

    private static CaptureOptions Options(CaptureMode mode, bool snapshot = false) => mode == CaptureMode.Logical
        ? LogicalCaptureTests.Fast with { Snapshot = snapshot }
        : new CaptureOptions { JournalPollInterval = TimeSpan.FromMilliseconds(50), Snapshot = snapshot };

    private static string Sha256(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text))).ToLowerInvariant();

    [Theory]
    [InlineData(CaptureMode.Notify)]
    [InlineData(CaptureMode.Durable)]
    [InlineData(CaptureMode.Logical)]
    public async Task OperationsAndColumnFiltersShapeEveryEventAndAreShownAsInstalled(CaptureMode mode)
    {
        var db = await database.CreateDatabaseAsync("filt");
        await TestSql.ExecuteAsync(db, Tables);
        var source = Filtered(mode,
            new TableFilter { Table = TableName.Parse("customers"), Operations = TableOperations.Insert | TableOperations.Update, ExcludeColumns = ["note"], MaskColumns = ["email"], MaskStyle = MaskStyle.Hash },
            new TableFilter { Table = TableName.Parse("orders"), Operations = TableOperations.Insert, IncludeColumns = ["id", "total"], MaskColumns = ["total"] }).Validate();
        var plan = await CaptureHarness.InstallAsync(source, db);
        output.WriteLine(string.Join("\n", plan.Select(c => c.Describe())));
        Assert.Empty(await CaptureHarness.InstallAsync(source, db));

        await using var capture = ChangeCaptureFactory.Create(source, ConnectionSettings.Parse(db), Options(mode));
        var taking = CaptureHarness.TakeAllAsync(capture, 3);
        await CaptureHarness.WaitUntilReadyAsync(capture);
        await TestSql.ExecuteAsync(db, """
            INSERT INTO customers VALUES (1, 'Ann', 'ann@example.com', 'vip');
            UPDATE customers SET name = 'Anne', email = NULL;
            DELETE FROM customers;
            TRUNCATE customers;
            INSERT INTO orders VALUES (7, 120, 'hidden');
            UPDATE orders SET total = 130;
            DELETE FROM orders;
            """);
        // Nothing else comes: the DELETEs, the TRUNCATE and the orders UPDATE are filtered out.
        var changes = await taking;

        Assert.Equal([("customers", ChangeOperation.Insert), ("customers", ChangeOperation.Update), ("orders", ChangeOperation.Insert)],
            changes.Select(c => (c.Table, c.Operation)));
        var inserted = CaptureHarness.Payload(changes[0]).GetProperty("data");
        Assert.Equal(["id", "name", "email"], inserted.EnumerateObject().Select(p => p.Name));
        Assert.Equal(Sha256("ann@example.com"), inserted.GetProperty("email").GetString());
        var updated = CaptureHarness.Payload(changes[1]);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, updated.GetProperty("data").GetProperty("email").ValueKind);
        Assert.False(updated.GetProperty("data").TryGetProperty("note", out _));
        if (updated.TryGetProperty("old", out var old))
        {
            Assert.False(old.TryGetProperty("note", out _));
        }
        var order = CaptureHarness.Payload(changes[2]).GetProperty("data");
        Assert.Equal(["id", "total"], order.EnumerateObject().Select(p => p.Name));
        Assert.Equal(TableFilter.Placeholder, order.GetProperty("total").GetString());

        var listed = (await TriggerInspector.ForSourceAsync(source, ConnectionSettings.Parse(db))).ToDictionary(r => r.Table!);
        if (mode == CaptureMode.Logical)
        {
            // Pushed down: the union of the operations, and the include list as a column list (with the key).
            Assert.Equal(["INSERT", "UPDATE"], listed["orders"].Operations);
            Assert.Equal(["id", "total"], listed["orders"].Filter!.IncludeColumns);
            Assert.Equal("{id,total}", await TestSql.ScalarAsync<string>(db,
                $"SELECT attnames::text FROM pg_publication_tables WHERE pubname = '{source.DatabaseObjectName}' AND tablename = 'orders'"));
        }
        else
        {
            Assert.Equal(["INSERT", "UPDATE"], listed["customers"].Operations);
            Assert.Equal(["note"], listed["customers"].Filter!.ExcludeColumns);
            Assert.Equal(MaskStyle.Hash, listed["customers"].Filter!.MaskStyle);
            Assert.Equal(["INSERT"], listed["orders"].Operations);
            Assert.Equal(["id", "total"], listed["orders"].Filter!.IncludeColumns);
        }
    }

    /// <summary>
    /// The row condition's rule for UPDATE, the same in every mode (a publication row filter's): staying in is an UPDATE,
    /// entering is an INSERT, leaving is a DELETE (with the row as it was), and rows outside are never sent.
    /// </summary>
    [Theory]
    [InlineData(CaptureMode.Notify)]
    [InlineData(CaptureMode.Durable)]
    [InlineData(CaptureMode.Logical)]
    public async Task ARowConditionSendsOnlyMatchingRowsAndTurnsUpdatesAcrossItIntoInsertsAndDeletes(CaptureMode mode)
    {
        var db = await database.CreateDatabaseAsync("fwhere");
        await TestSql.ExecuteAsync(db, Tables);
        var source = Filtered(mode, new TableFilter { Table = TableName.Parse("customers"), Where = "name LIKE 'A%' AND id < 100" }).Validate();
        var plan = await CaptureHarness.InstallAsync(source, db, new InstallOptions { ReplicaIdentityFull = mode == CaptureMode.Logical });
        output.WriteLine(string.Join("\n", plan.Select(c => c.Describe())));
        Assert.Empty(await CaptureHarness.InstallAsync(source, db, new InstallOptions { ReplicaIdentityFull = mode == CaptureMode.Logical }));

        await using var capture = ChangeCaptureFactory.Create(source, ConnectionSettings.Parse(db), Options(mode));
        var taking = CaptureHarness.TakeAllAsync(capture, 6);
        await CaptureHarness.WaitUntilReadyAsync(capture);
        await TestSql.ExecuteAsync(db, """
            INSERT INTO customers (id, name) VALUES (1, 'Ann'), (2, 'Bob'), (200, 'Al');
            UPDATE customers SET email = 'a@x' WHERE id = 1;
            UPDATE customers SET name = 'Zed' WHERE id = 1;
            UPDATE customers SET name = 'Abe' WHERE id = 2;
            UPDATE customers SET email = 'b@x' WHERE id = 200;
            DELETE FROM customers WHERE id IN (1, 200);
            DELETE FROM customers WHERE id = 2;
            INSERT INTO orders VALUES (5, 1, 'x');
            """);
        var changes = await taking;

        // The unfiltered table's change comes as ever.
        Assert.Equal(
            [("customers", ChangeOperation.Insert, 1), ("customers", ChangeOperation.Update, 1), ("customers", ChangeOperation.Delete, 1),
             ("customers", ChangeOperation.Insert, 2), ("customers", ChangeOperation.Delete, 2), ("orders", ChangeOperation.Insert, 5)],
            changes.Select(c => (c.Table, c.Operation, CaptureHarness.Payload(c).GetProperty("data").GetProperty("id").GetInt32())));
        // Leaving: the row as it was, the last state a consumer saw.
        Assert.Equal("Ann", CaptureHarness.Payload(changes[2]).GetProperty("data").GetProperty("name").GetString());
        Assert.Equal("Abe", CaptureHarness.Payload(changes[3]).GetProperty("data").GetProperty("name").GetString());
        Assert.Equal("DELETE", CaptureHarness.Payload(changes[2]).GetProperty("action").GetString());

        await capture.DisposeAsync();
        if (mode == CaptureMode.Durable)
        {
            // A row outside the condition costs no journal row: of these two, only Amy's is written.
            await TestSql.ExecuteAsync(db, "INSERT INTO customers (id, name) VALUES (300, 'Zoe'), (3, 'Amy')");
            Assert.Equal(1L, await TestSql.ScalarAsync<long>(db, $"SELECT count(*) FROM \"{source.DatabaseObjectName}\".journal"));
        }
        var definition = mode == CaptureMode.Logical
            ? await TestSql.ScalarAsync<string>(db, $"SELECT rowfilter FROM pg_publication_tables WHERE pubname = '{source.DatabaseObjectName}' AND tablename = 'customers'")
            : await TestSql.ScalarAsync<string>(db, $"SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgname = '{source.DatabaseObjectName}'");
        output.WriteLine(definition);
        Assert.Contains("'A%'", definition, StringComparison.Ordinal);
        var listed = (await TriggerInspector.ForSourceAsync(source, ConnectionSettings.Parse(db))).Single(r => r.Table == "customers");
        Assert.Equal("name LIKE 'A%' AND id < 100", listed.Filter!.Where);
    }

    [Theory]
    [InlineData(CaptureMode.Notify)]
    [InlineData(CaptureMode.Durable)]
    public async Task AChangedFilterIsAReinstallThatRemovesTheTriggersItNoLongerNeeds(CaptureMode mode)
    {
        var db = await database.CreateDatabaseAsync("fchg");
        await TestSql.ExecuteAsync(db, Tables);
        var withCondition = Filtered(mode, new TableFilter { Table = TableName.Parse("customers"), Where = "id > 10" }).Validate();
        await CaptureHarness.InstallAsync(withCondition, db);
        var triggers = "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'customers'::regclass AND NOT tgisinternal";
        Assert.Equal(6L, await TestSql.ScalarAsync<long>(db, triggers));

        var plain = withCondition with { Filters = [new TableFilter { Table = TableName.Parse("customers"), Operations = TableOperations.Insert }] };
        var plan = await CaptureHarness.InstallAsync(plain, db);
        Assert.Equal(5, plan.Count(c => c.Kind == SchemaChangeKind.DropTrigger));
        Assert.Equal(1L, await TestSql.ScalarAsync<long>(db, triggers));
        Assert.Empty(await CaptureHarness.InstallAsync(plain, db));
        await CaptureHarness.UninstallAsync(plain, db);
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal"));
    }

    [Theory]
    [InlineData(CaptureMode.Notify, "name = ")]
    [InlineData(CaptureMode.Durable, "nosuchcolumn > 1")]
    [InlineData(CaptureMode.Logical, "id + 1")]
    public async Task AConditionPostgresRejectsIsAClearErrorAndChangesNothing(CaptureMode mode, string condition)
    {
        var db = await database.CreateDatabaseAsync("fbad");
        await TestSql.ExecuteAsync(db, Tables);
        var source = Filtered(mode, new TableFilter { Table = TableName.Parse("customers"), Where = condition }).Validate();
        var error = await Assert.ThrowsAsync<TableFilterException>(() => CaptureHarness.InstallAsync(source, db));
        output.WriteLine(error.Message);
        Assert.Contains("customers", error.Message, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed", error.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal"));
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_publication"));
    }

    [Fact]
    public async Task AMistypedColumnIsAClearErrorNamingTheTablesColumns()
    {
        var db = await database.CreateDatabaseAsync("fcol");
        await TestSql.ExecuteAsync(db, Tables);
        var source = Filtered(CaptureMode.Durable, new TableFilter { Table = TableName.Parse("customers"), MaskColumns = ["emial"] }).Validate();
        var error = await Assert.ThrowsAsync<TableFilterException>(() => CaptureHarness.InstallAsync(source, db));
        Assert.Contains("emial", error.Message, StringComparison.Ordinal);
        Assert.Contains("id, name, email, note", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Logical: a condition on a column outside the replica identity would make PostgreSQL refuse the user's UPDATEs; refused at install.</summary>
    [Fact]
    public async Task ALogicalConditionOutsideTheReplicaIdentityIsRefusedBeforeAnyUserWriteCanFail()
    {
        var db = await database.CreateDatabaseAsync("fident");
        await TestSql.ExecuteAsync(db, Tables);
        var source = Filtered(CaptureMode.Logical, new TableFilter { Table = TableName.Parse("customers"), Where = "name <> 'x'" }).Validate();
        var error = await Assert.ThrowsAsync<TableFilterException>(() => CaptureHarness.InstallAsync(source, db));
        Assert.Contains("replica identity", error.Message, StringComparison.Ordinal);
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_publication"));

        // On the key it is allowed, and UPDATEs keep working.
        var onKey = source with { Filters = [new TableFilter { Table = TableName.Parse("customers"), Where = "id > 1" }] };
        await CaptureHarness.InstallAsync(onKey, db);
        await TestSql.ExecuteAsync(db, "INSERT INTO customers (id, name) VALUES (1, 'a'), (2, 'b'); UPDATE customers SET name = 'c'; DELETE FROM customers");
    }

    [Theory]
    [InlineData(CaptureMode.Durable)]
    [InlineData(CaptureMode.Logical)]
    public async Task ASnapshotReadsOnlyTheRowsTheConditionTakesWithTheFiltersColumns(CaptureMode mode)
    {
        var db = await database.CreateDatabaseAsync("fsnap");
        await TestSql.ExecuteAsync(db, Tables + "INSERT INTO customers SELECT g, 'n' || g, 'e' || g, 'x' FROM generate_series(1, 40) g;");
        var source = Filtered(mode, new TableFilter { Table = TableName.Parse("customers"), Where = "id % 2 = 0", IncludeColumns = ["id", "email"], MaskColumns = ["email"] }).Validate();
        await CaptureHarness.InstallAsync(source, db, new InstallOptions { Snapshot = true, ReplicaIdentityFull = true });

        await using var capture = ChangeCaptureFactory.Create(source, ConnectionSettings.Parse(db), Options(mode, snapshot: true));
        var reads = await CaptureHarness.TakeAllAsync(capture, 20);
        Assert.Equal(20, reads.Count);
        Assert.All(reads, r => Assert.Equal(ChangeOperation.Read, r.Operation));
        var rows = reads.Select(r => CaptureHarness.Payload(r).GetProperty("data")).ToList();
        Assert.Equal(Enumerable.Range(1, 20).Select(i => i * 2), rows.Select(r => r.GetProperty("id").GetInt32()).Order());
        Assert.All(rows, r => Assert.Equal(["id", "email"], r.EnumerateObject().Select(p => p.Name)));
        Assert.All(rows, r => Assert.Equal(TableFilter.Placeholder, r.GetProperty("email").GetString()));
    }

    [Theory]
    [InlineData("status = 'a'; DROP TABLE customers")]
    [InlineData("true) OR (true")]
    [InlineData("id > 1)")]
    [InlineData("name = 'open")]
    [InlineData("")]
    public void AConditionThatCouldEndItsClauseIsRefusedBeforeAnyDatabaseIsAsked(string condition)
    {
        var source = Filtered(CaptureMode.Notify, new TableFilter { Table = TableName.Parse("customers"), Where = condition });
        var error = Assert.Throws<SourceValidationException>(() => source.Validate());
        Assert.Equal("tables[0].where", error.Field);
    }

    [Fact]
    public void QualifyingAConditionTouchesOnlyColumnNamesOutsideLiteralsFunctionsAndTypes()
    {
        string[] columns = ["id", "name", "Total", "text"];
        var qualified = RowPredicate.Qualify("""lower(name) = 'id' AND "Total"::text > id::text AND "name" IS NOT NULL /* id */ AND x.id = 1""", columns, "NEW");
        Assert.Equal("""lower(NEW."name") = 'id' AND NEW."Total"::text > NEW."id"::text AND NEW."name" IS NOT NULL /* id */ AND x.id = 1""", qualified);
        Assert.Equal(new HashSet<string> { "name", "Total", "id" }, RowPredicate.ReferencedColumns("lower(name) = 'id' AND \"Total\" > id", columns));
    }
}
