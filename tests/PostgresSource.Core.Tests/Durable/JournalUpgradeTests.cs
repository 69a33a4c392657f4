using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Capture.Durable;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Tests.Capture;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Core.Tests.Durable;

/// <summary>
/// The journal layout of this version (row images; the reader builds the payload) against the one before it
/// (the trigger built the whole payload): an install over the earlier journal upgrades it in place, keeps its
/// rows, and both kinds of row arrive as the same payload.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class JournalUpgradeTests(DatabaseFixture database, ITestOutputHelper output)
{
    private static CaptureOptions Fast => new() { JournalPollInterval = TimeSpan.FromMilliseconds(300) };

    /// <summary>The journal and trigger function as the previous version installed them (test data, not product code).</summary>
    private static string PreviousVersion(string name, string table) => $"""
        CREATE SCHEMA "{name}";
        CREATE TABLE "{name}".journal (
            id bigint GENERATED ALWAYS AS IDENTITY (CACHE 1) PRIMARY KEY,
            txid pg_catalog.xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
            table_schema text NOT NULL, table_name text NOT NULL, operation text NOT NULL,
            payload json NOT NULL,
            written timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp());
        CREATE TABLE "{name}".snapshot (table_schema text NOT NULL, table_name text NOT NULL, segment integer NOT NULL,
            snapshot pg_catalog.pg_snapshot, horizon text, last_key json, rows_read bigint NOT NULL DEFAULT 0,
            done boolean NOT NULL DEFAULT false, updated timestamptz NOT NULL DEFAULT pg_catalog.now(),
            PRIMARY KEY (table_schema, table_name, segment));
        CREATE FUNCTION "{name}".capture() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
        BEGIN
            INSERT INTO "{name}".journal (table_schema, table_name, operation, payload)
            VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP,
                    CASE TG_OP
                        WHEN 'INSERT' THEN json_build_object('table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA, 'action', TG_OP, 'data', row_to_json(NEW))
                        WHEN 'UPDATE' THEN json_build_object('table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA, 'action', TG_OP, 'data', row_to_json(NEW), 'old', row_to_json(OLD))
                        ELSE json_build_object('table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA, 'action', TG_OP, 'data', row_to_json(OLD))
                    END);
            PERFORM pg_notify('{name}', 'durable');
            RETURN NULL;
        END $$;
        CREATE TRIGGER "{name}" AFTER INSERT OR UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION "{name}".capture();
        """;

    [Fact]
    public async Task InstallOverAnEarlierJournalUpgradesItInPlaceAndKeepsItsRows()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY, item text, qty int)");
        var source = CaptureHarness.Source(CaptureMode.Durable, "orders");
        var name = source.DatabaseObjectName;
        await TestSql.ExecuteAsync(db, PreviousVersion(name, "orders"));
        await TestSql.ExecuteAsync(db, "INSERT INTO orders VALUES (1, 'apple', 3); UPDATE orders SET qty = 4 WHERE id = 1; DELETE FROM orders WHERE id = 1");
        var earlierPayloads = await PayloadsAsync(db, name);

        var changes = await CaptureHarness.InstallAsync(source, db);
        output.WriteLine(string.Join("\n", changes.Select(c => c.Describe())));
        // The earlier function ran as its owner: replaced; writers get their narrow access; the TRUNCATE trigger is new.
        Assert.Equal([SchemaChangeKind.AlterTable, SchemaChangeKind.ReplaceFunction, SchemaChangeKind.GrantAccess, SchemaChangeKind.CreateTrigger], changes.Select(c => c.Kind));
        Assert.Equal(3L, await TestSql.ScalarAsync<long>(db, $"SELECT count(*) FROM \"{name}\".journal"));
        await using (var again = await SourceSchema.PlanInstallAsync(source, ConnectionSettings.Parse(db)))
        {
            Assert.False(again.HasChanges);
        }

        // The same three changes through the upgraded trigger.
        await TestSql.ExecuteAsync(db, "INSERT INTO orders VALUES (1, 'apple', 3); UPDATE orders SET qty = 4 WHERE id = 1; DELETE FROM orders WHERE id = 1");
        await using var capture = new DurableCapture(source, ConnectionSettings.Parse(db), Fast);
        var read = await CaptureHarness.TakeAsync(capture, 6);
        Assert.Equal(earlierPayloads, read.Take(3).Select(c => c.PayloadJson));
        // Identical text: the reader's payload is what the earlier trigger's json_build_object printed.
        Assert.Equal(earlierPayloads, read.Skip(3).Select(c => c.PayloadJson));
        Assert.Equal(
            [ChangeOperation.Insert, ChangeOperation.Update, ChangeOperation.Delete, ChangeOperation.Insert, ChangeOperation.Update, ChangeOperation.Delete],
            read.Select(c => c.Operation));
    }

    [Fact]
    public async Task PayloadMatchesJsonBuildObjectForNamesThatNeedEscaping()
    {
        var db = await database.CreateDatabaseAsync();
        const string schema = "Sch\"é\\ma";
        const string table = "t\tab\u0001le";
        var expected = await TestSql.ScalarAsync<string>(db,
            $"SELECT json_build_object('table', {Sql.Literal(table)}, 'schema', {Sql.Literal(schema)}, 'action', 'UPDATE', 'data', '{{\"a\":1}}'::json, 'old', '{{\"a\":0}}'::json)::text");
        Assert.Equal(expected, JournalPayload.Compose(schema, table, "UPDATE", "{\"a\":1}", "{\"a\":0}"));
    }

    private static async Task<List<string>> PayloadsAsync(string db, string name)
    {
        await using var connection = new Npgsql.NpgsqlConnection(db);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand($"SELECT payload::text FROM \"{name}\".journal ORDER BY id", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var list = new List<string>();
        while (await reader.ReadAsync())
        {
            list.Add(reader.GetString(0));
        }
        return list;
    }
}
