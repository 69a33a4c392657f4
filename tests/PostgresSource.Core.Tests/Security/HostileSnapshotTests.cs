using System.Text.Json;
using Npgsql;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Capture.Durable;
using PostgresSource.Core.Capture.Logical;
using PostgresSource.Core.Capture.Snapshots;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Tests.Capture;
using PostgresSource.Core.Tests.Logical;
using PostgresSource.TestSupport;

namespace PostgresSource.Core.Tests.Security;

/// <summary>
/// The snapshot reads a table with the listener's rights (here a superuser's). The table's owner defines a cast
/// from their enum to json and a domain whose CHECK calls their function; both try to make the owner superuser and
/// record whose rights they ran with. Reading, resuming and matching keys must run neither.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class HostileSnapshotTests(DatabaseFixture database)
{
    private const string Trap = """
        CREATE TABLE shop.ran_as (who text, what text);
        CREATE FUNCTION shop.trap(what text) RETURNS boolean LANGUAGE plpgsql AS $f$
        BEGIN
            INSERT INTO shop.ran_as VALUES (current_user, what);
            BEGIN
                EXECUTE pg_catalog.format('ALTER ROLE %I SUPERUSER', '{0}');
            EXCEPTION WHEN insufficient_privilege THEN NULL;
            END;
            RETURN true;
        END $f$;
        CREATE TYPE shop.mood AS ENUM ('happy', 'sad');
        CREATE FUNCTION shop.mood_json(shop.mood) RETURNS json LANGUAGE plpgsql AS $f$
        BEGIN PERFORM shop.trap('cast'); RETURN '"cast ran"'::json; END $f$;
        CREATE CAST (shop.mood AS json) WITH FUNCTION shop.mood_json(shop.mood);
        CREATE DOMAIN shop.checked AS int CHECK (shop.trap('domain'));
        CREATE TABLE shop.orders (id int PRIMARY KEY, mood shop.mood, qty shop.checked, note text);
        CREATE TABLE shop.by_mood (mood shop.mood PRIMARY KEY, n int);
        INSERT INTO shop.orders SELECT g, 'happy', g, 'n' || g FROM generate_series(1, 20) g;
        INSERT INTO shop.by_mood VALUES ('happy', 1), ('sad', 2);
        """;

    [Theory]
    [InlineData(CaptureMode.Durable)]
    [InlineData(CaptureMode.Logical)]
    public async Task NeitherTheOwnersCastNorTheirDomainCheckRunsInTheSnapshot(CaptureMode mode)
    {
        var db = await database.CreateDatabaseAsync();
        var mallory = "mallory_" + Guid.NewGuid().ToString("N")[..8];
        await TestSql.ExecuteAsync(db, $"CREATE ROLE {mallory} LOGIN PASSWORD 'pw'");
        await TestSql.ExecuteAsync(db, $"CREATE SCHEMA shop AUTHORIZATION {mallory}");
        var asMallory = new NpgsqlConnectionStringBuilder(db) { Username = mallory, Password = "pw" }.ConnectionString;
        await TestSql.ExecuteAsync(asMallory, Trap.Replace("{0}", mallory));
        // The inserts ran the domain CHECK as mallory, which is her right; only what runs later counts.
        await TestSql.ExecuteAsync(asMallory, "TRUNCATE shop.ran_as");

        var source = CaptureHarness.Source(mode, "shop.orders", "shop.by_mood");
        await CaptureHarness.InstallAsync(source, db, new InstallOptions { Snapshot = true });
        var options = (mode == CaptureMode.Logical ? LogicalCaptureTests.Fast : new CaptureOptions { JournalPollInterval = TimeSpan.FromMilliseconds(200) })
            with { Snapshot = true, SnapshotChunkSize = 5 };
        await using IChangeCapture capture = mode == CaptureMode.Logical
            ? new LogicalCapture(source, ConnectionSettings.Parse(db), options)
            : new DurableCapture(source, ConnectionSettings.Parse(db), options);

        var rows = await CaptureHarness.TakeAsync(capture, 22, TimeSpan.FromSeconds(60));

        Assert.All(rows, r => Assert.Equal(ChangeOperation.Read, r.Operation));
        var order = CaptureHarness.Payload(rows.First(r => r.Table == "orders"));
        var data = order.GetProperty("data");
        Assert.Equal("happy", data.GetProperty("mood").GetString());            // the enum's own text, not "cast ran"
        Assert.Equal(JsonValueKind.Number, data.GetProperty("qty").ValueKind);   // a domain over int stays a number
        Assert.Equal(2, rows.Count(r => r.Table == "by_mood"));                  // an enum key: read whole, not resumed
        Assert.False(await TestSql.ScalarAsync<bool>(db, "SELECT rolsuper FROM pg_roles WHERE rolname = @r", ("r", mallory)));
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM shop.ran_as"));
    }

    /// <summary>The resume and key-matching statements, run directly: no owner-defined code runs for them either.</summary>
    [Fact]
    public async Task ResumingAfterAKeyAndFindingAKeysSegmentRunNoOwnerCode()
    {
        var db = await database.CreateDatabaseAsync();
        var mallory = "mallory_" + Guid.NewGuid().ToString("N")[..8];
        await TestSql.ExecuteAsync(db, $"CREATE ROLE {mallory} LOGIN PASSWORD 'pw'");
        await TestSql.ExecuteAsync(db, $"CREATE SCHEMA shop AUTHORIZATION {mallory}");
        var asMallory = new NpgsqlConnectionStringBuilder(db) { Username = mallory, Password = "pw" }.ConnectionString;
        await TestSql.ExecuteAsync(asMallory, Trap.Replace("{0}", mallory) + "\nCREATE DOMAIN shop.key AS int CHECK (shop.trap('key domain'));\nCREATE TABLE shop.keyed (id shop.key PRIMARY KEY, qty shop.checked);\nINSERT INTO shop.keyed SELECT g, g FROM generate_series(1, 5) g;");
        await TestSql.ExecuteAsync(asMallory, "TRUNCATE shop.ran_as");

        await using var connection = new NpgsqlConnection(db);
        await connection.OpenAsync();
        var oid = await TestSql.ScalarAsync<uint>(db, "SELECT 'shop.keyed'::regclass::oid");
        var table = await SnapshotTable.LoadAsync(connection, new ResolvedTable("shop", "keyed", oid), CancellationToken.None);
        Assert.True(table.Resumable, "a key whose domain is over int resumes, compared as int");

        var after = new List<string>();
        await using (var select = new NpgsqlCommand(table.SelectSql(after: true), connection))
        {
            select.Parameters.Add(new NpgsqlParameter { Value = "{\"id\": 3}", NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            await using var reader = await select.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                after.Add(reader.GetString(1));
            }
        }
        Assert.Equal(["{\"id\" : 4}", "{\"id\" : 5}"], after);

        await using (var segment = new NpgsqlCommand(table.SegmentOfKeySql(), connection))
        {
            segment.Parameters.Add(new NpgsqlParameter { Value = "{\"id\": 4, \"qty\": 4}", NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            segment.Parameters.Add(new NpgsqlParameter { Value = new[] { "{\"id\": 2}", "{\"id\": 9}" }, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text });
            Assert.Equal(1, (int)(await segment.ExecuteScalarAsync())!);
        }
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM shop.ran_as"));
        Assert.False(await TestSql.ScalarAsync<bool>(db, "SELECT rolsuper FROM pg_roles WHERE rolname = @r", ("r", mallory)));
    }
}
