using Npgsql;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Capture.Durable;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Tests.Capture;
using PostgresSource.TestSupport;
using PostgresSource.Core.Capture.Notify;

namespace PostgresSource.Core.Tests.Security;

/// <summary>
/// Each test plays an attacker against a real server, with a source installed by the test's superuser, and checks
/// that the attacker gains no privilege, runs no code in another role's write and reads no captured change.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class HostileRoleTests(DatabaseFixture database)
{
    private static string NewRoleName(string prefix) => prefix + "_" + Guid.NewGuid().ToString("N")[..8];

    private static async Task<string> CreateLoginAsync(string db, string role, string extra = "")
    {
        await TestSql.ExecuteAsync(db, $"CREATE ROLE {role} LOGIN PASSWORD 'pw' {extra}");
        return new NpgsqlConnectionStringBuilder(db) { Username = role, Password = "pw" }.ConnectionString;
    }

    private static Task<bool> IsSuperuserAsync(string db, string role) =>
        TestSql.ScalarAsync<bool>(db, "SELECT rolsuper FROM pg_roles WHERE rolname = @r", ("r", role));

    /// <summary>
    /// The table owner's cast to json tries to make its owner superuser and records the role it ran as. With the
    /// capture function running as its installer (SECURITY DEFINER, the earlier design) the role became superuser.
    /// </summary>
    [Theory]
    [InlineData(CaptureMode.Durable)]
    [InlineData(CaptureMode.Notify)]
    public async Task ATableOwnersCastToJsonNeverRunsWithTheInstallersRights(CaptureMode mode)
    {
        var db = await database.CreateDatabaseAsync();
        var mallory = NewRoleName("mallory");
        var asMallory = await CreateLoginAsync(db, mallory);
        await TestSql.ExecuteAsync(db, $"CREATE SCHEMA shop AUTHORIZATION {mallory}");
        await TestSql.ExecuteAsync(asMallory, "CREATE TABLE shop.t (id int PRIMARY KEY, note text)");
        var source = CaptureHarness.Source(mode, "shop.t");
        await CaptureHarness.InstallAsync(source, db);

        await using var notify = mode == CaptureMode.Notify ? new NotifyCapture(source, ConnectionSettings.Parse(db)) : null;
        await using var durable = mode == CaptureMode.Durable ? new DurableCapture(source, ConnectionSettings.Parse(db)) : null;
        IChangeCapture capture = (IChangeCapture?)notify ?? durable!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var stream = capture.ReadAllAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);
        var first = stream.MoveNextAsync().AsTask();
        await Task.Delay(500); // Notify: LISTEN is in place before the write

        await TestSql.ExecuteAsync(asMallory, $"""
            CREATE TABLE shop.ran_as (who text);
            CREATE TYPE shop.mood AS ENUM ('happy');
            CREATE FUNCTION shop.mood_json(shop.mood) RETURNS json LANGUAGE plpgsql AS $f$
            BEGIN
                INSERT INTO shop.ran_as VALUES (current_user);
                BEGIN
                    EXECUTE 'ALTER ROLE {mallory} SUPERUSER';
                EXCEPTION WHEN insufficient_privilege THEN NULL;
                END;
                RETURN '"cast ran"'::json;
            END $f$;
            CREATE CAST (shop.mood AS json) WITH FUNCTION shop.mood_json(shop.mood);
            ALTER TABLE shop.t ADD COLUMN mood shop.mood;
            INSERT INTO shop.t VALUES (1, 'x', 'happy');
            """);

        Assert.True(await first, "the insert was captured");
        Assert.Equal(ChangeOperation.Insert, stream.Current.Operation);
        Assert.False(await IsSuperuserAsync(db, mallory), "the table owner became superuser through the capture function");
        // The cast ran only with the writer's own rights (mallory wrote the row).
        Assert.Equal(mallory, await TestSql.ScalarAsync<string>(db, "SELECT string_agg(DISTINCT who, ',') FROM shop.ran_as"));
    }

    /// <summary>
    /// A role with CREATE on a schema on the writer's search_path defines look-alikes of what the capture
    /// function calls; none of them runs inside the writer's INSERT, in either trigger mode.
    /// </summary>
    [Theory]
    [InlineData(CaptureMode.Durable)]
    [InlineData(CaptureMode.Notify)]
    public async Task LookAlikeFunctionsOnTheWritersSearchPathNeverRun(CaptureMode mode)
    {
        var db = await database.CreateDatabaseAsync();
        var eve = NewRoleName("eve");
        var app = NewRoleName("app");
        await CreateLoginAsync(db, eve);
        var asApp = await CreateLoginAsync(db, app);
        await TestSql.ExecuteAsync(db, $"""
            CREATE TABLE public.orders (id int PRIMARY KEY, qty int);
            GRANT INSERT, UPDATE, DELETE ON public.orders TO {app};
            CREATE SCHEMA trap AUTHORIZATION {eve};
            GRANT USAGE ON SCHEMA trap TO PUBLIC;
            CREATE TABLE public.trap_log (who text, what text);
            GRANT INSERT ON public.trap_log TO PUBLIC;
            ALTER ROLE {app} IN DATABASE "{new NpgsqlConnectionStringBuilder(db).Database}" SET search_path = trap, public;
            """);
        var source = CaptureHarness.Source(mode, "public.orders");
        await CaptureHarness.InstallAsync(source, db);
        var asEve = new NpgsqlConnectionStringBuilder(db) { Username = eve, Password = "pw" }.ConnectionString;
        // Exact-signature look-alikes of what the functions call, with the table's own row type where one is taken.
        await TestSql.ExecuteAsync(asEve, """
            CREATE FUNCTION trap.row_to_json(public.orders) RETURNS json LANGUAGE sql
                AS $f$ INSERT INTO public.trap_log VALUES (current_user, 'row_to_json') RETURNING '{}'::json $f$;
            CREATE FUNCTION trap.octet_length(text) RETURNS int LANGUAGE sql
                AS $f$ INSERT INTO public.trap_log VALUES (current_user, 'octet_length') RETURNING 0 $f$;
            CREATE FUNCTION trap.pg_notify(text, text) RETURNS void LANGUAGE sql
                AS $f$ INSERT INTO public.trap_log VALUES (current_user, 'pg_notify') $f$;
            CREATE FUNCTION trap.text_eq(text, text) RETURNS boolean LANGUAGE sql
                AS $f$ INSERT INTO public.trap_log VALUES (current_user, '=') RETURNING true $f$;
            CREATE OPERATOR trap.= (LEFTARG = text, RIGHTARG = text, FUNCTION = trap.text_eq);
            """);

        await TestSql.ExecuteAsync(asApp, "INSERT INTO orders VALUES (1, 5); UPDATE orders SET qty = 6; DELETE FROM orders");

        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM public.trap_log"));
        if (mode == CaptureMode.Durable)
        {
            await using var capture = new DurableCapture(source, ConnectionSettings.Parse(db));
            var read = await CaptureHarness.TakeAsync(capture, 3);
            Assert.Equal([ChangeOperation.Insert, ChangeOperation.Update, ChangeOperation.Delete], read.Select(c => c.Operation));
            Assert.Equal(6, CaptureHarness.Payload(read[1]).GetProperty("data").GetProperty("qty").GetInt32());
        }
    }

    /// <summary>
    /// A role pre-creates the source's schema and journal with a trigger of its own that copies every captured
    /// change out. Install refuses it and changes nothing; an explicit take-over removes it and installs afresh,
    /// after which the squatter sees nothing.
    /// </summary>
    [Fact]
    public async Task APreCreatedSchemaAndJournalAreRefusedThenTakenOverOnlyWhenAsked()
    {
        var db = await database.CreateDatabaseAsync();
        var mallory = NewRoleName("squatter");
        var asMallory = await CreateLoginAsync(db, mallory);
        var dbName = new NpgsqlConnectionStringBuilder(db).Database;
        await TestSql.ExecuteAsync(db, $"""
            CREATE TABLE public.orders (id int PRIMARY KEY, secret text);
            GRANT CREATE ON DATABASE "{dbName}" TO {mallory};
            """);
        var source = CaptureHarness.Source(CaptureMode.Durable, "public.orders");
        var schema = source.DatabaseObjectName;
        await TestSql.ExecuteAsync(asMallory, $"""
            CREATE SCHEMA "{schema}";
            CREATE TABLE "{schema}".journal (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                txid xid8 NOT NULL DEFAULT pg_current_xact_id(), table_schema text NOT NULL, table_name text NOT NULL,
                operation text NOT NULL, data json, old json, payload json);
            CREATE TABLE "{schema}".stolen (data json);
            CREATE FUNCTION "{schema}".steal() RETURNS trigger LANGUAGE plpgsql AS $f$
                BEGIN INSERT INTO "{schema}".stolen VALUES (NEW.data); RETURN NULL; END $f$;
            CREATE TRIGGER steal AFTER INSERT ON "{schema}".journal FOR EACH ROW EXECUTE FUNCTION "{schema}".steal();
            """);

        var refused = await Assert.ThrowsAsync<SourceOwnershipException>(() => CaptureHarness.InstallAsync(source, db));
        Assert.Contains($"owner {mallory}", refused.Message);
        Assert.Contains("Nothing was changed", refused.Message);
        Assert.Contains(refused.Objects, o => o.StartsWith("schema ", StringComparison.Ordinal));
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db,
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.orders'::regclass AND NOT tgisinternal"));
        await Assert.ThrowsAsync<SourceOwnershipException>(() => CaptureHarness.UninstallAsync(source, db));
        Assert.Equal(mallory, await TestSql.ScalarAsync<string>(db,
            "SELECT pg_get_userbyid(nspowner)::text FROM pg_namespace WHERE nspname = @s", ("s", schema)));

        var changes = await CaptureHarness.InstallAsync(source, db, new InstallOptions { TakeOver = true });
        Assert.Contains(changes, c => c.Kind == SchemaChangeKind.TakeOver && c.Target == $"schema {schema}");
        await TestSql.ExecuteAsync(db, "INSERT INTO public.orders VALUES (1, 'top secret')");

        Assert.Equal(new NpgsqlConnectionStringBuilder(db).Username, await TestSql.ScalarAsync<string>(db,
            "SELECT pg_get_userbyid(nspowner)::text FROM pg_namespace WHERE nspname = @s", ("s", schema)));
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, $"SELECT count(*) FROM pg_trigger WHERE tgrelid = '\"{schema}\".journal'::regclass AND NOT tgisinternal"));
        var denied = await Assert.ThrowsAsync<PostgresException>(() => TestSql.ScalarAsync<long>(asMallory, $"SELECT count(*) FROM \"{schema}\".journal"));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, denied.SqlState);
        await using var capture = new DurableCapture(source, ConnectionSettings.Parse(db));
        var read = await CaptureHarness.TakeAsync(capture, 1);
        Assert.Equal("top secret", CaptureHarness.Payload(read[0]).GetProperty("data").GetProperty("secret").GetString());
    }

    /// <summary>A Notify function with the source's name in the function schema, owned by someone else, is refused too.</summary>
    [Fact]
    public async Task APreCreatedNotifyFunctionIsRefused()
    {
        var db = await database.CreateDatabaseAsync();
        var mallory = NewRoleName("squatter");
        var asMallory = await CreateLoginAsync(db, mallory);
        await TestSql.ExecuteAsync(db, $"CREATE TABLE public.orders (id int PRIMARY KEY); GRANT CREATE ON SCHEMA public TO {mallory}");
        var source = CaptureHarness.Source(CaptureMode.Notify, "public.orders");
        await TestSql.ExecuteAsync(asMallory,
            $"CREATE FUNCTION public.\"{source.DatabaseObjectName}\"() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RETURN NULL; END $f$");

        var refused = await Assert.ThrowsAsync<SourceOwnershipException>(() => CaptureHarness.InstallAsync(source, db));
        Assert.Contains($"function public.{source.DatabaseObjectName}()", refused.Message);
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db,
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.orders'::regclass AND NOT tgisinternal"));
    }

    /// <summary>
    /// Writers may add journal rows only from inside a trigger and only for a table and operation they hold the
    /// privilege for; nobody but the owner reads or deletes them.
    /// </summary>
    [Fact]
    public async Task ARoleWithOnlyConnectCanNeitherReadNorForgeJournalRows()
    {
        var db = await database.CreateDatabaseAsync();
        var nobody = NewRoleName("nobody");
        var asNobody = await CreateLoginAsync(db, nobody);
        await TestSql.ExecuteAsync(db, "CREATE TABLE public.orders (id int PRIMARY KEY)");
        var source = CaptureHarness.Source(CaptureMode.Durable, "public.orders");
        await CaptureHarness.InstallAsync(source, db);
        await TestSql.ExecuteAsync(db, "INSERT INTO public.orders VALUES (1)");
        var journal = $"\"{source.DatabaseObjectName}\".journal";

        var read = await Assert.ThrowsAsync<PostgresException>(() => TestSql.ScalarAsync<long>(asNobody, $"SELECT count(*) FROM {journal}"));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, read.SqlState);
        var delete = await Assert.ThrowsAsync<PostgresException>(() => TestSql.ExecuteAsync(asNobody, $"DELETE FROM {journal}"));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, delete.SqlState);
        var direct = await Assert.ThrowsAsync<PostgresException>(() => TestSql.ExecuteAsync(asNobody,
            $"INSERT INTO {journal} (table_schema, table_name, operation, data) VALUES ('public', 'orders', 'INSERT', '{{\"id\": 99}}')"));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, direct.SqlState);
        // From a trigger of its own (on a temporary table), naming a table it may not write: refused as well.
        var viaTrigger = await Assert.ThrowsAsync<PostgresException>(() => TestSql.ExecuteAsync(asNobody, $$"""
            CREATE TEMP TABLE bait (x int);
            CREATE FUNCTION pg_temp.forge() RETURNS trigger LANGUAGE plpgsql AS $f$
            BEGIN
                INSERT INTO {{journal}} (table_schema, table_name, operation, data) VALUES ('public', 'orders', 'DELETE', '{"id": 1}');
                RETURN NULL;
            END $f$;
            CREATE TRIGGER forge AFTER INSERT ON bait FOR EACH ROW EXECUTE FUNCTION pg_temp.forge();
            INSERT INTO bait VALUES (1);
            """));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, viaTrigger.SqlState);
        Assert.Equal(1L, await TestSql.ScalarAsync<long>(db, $"SELECT count(*) FROM {journal}"));
    }

    /// <summary>
    /// The documented caveat, kept true: NOTIFY needs no privilege, so a role with only CONNECT can send a
    /// look-alike notification on a Notify source's channel and the listener takes it (docs/capture-modes.md,
    /// about_PostgresSource, New-PgSource -Mode). The same role cannot add a Durable change (test above).
    /// </summary>
    [Fact]
    public async Task ARoleWithOnlyConnectCanSendALookAlikeNotifyEventAsDocumented()
    {
        var db = await database.CreateDatabaseAsync();
        var nobody = NewRoleName("nobody");
        var asNobody = await CreateLoginAsync(db, nobody);
        await TestSql.ExecuteAsync(db, $"REVOKE ALL ON SCHEMA public FROM PUBLIC; REVOKE TEMPORARY ON DATABASE \"{new NpgsqlConnectionStringBuilder(db).Database}\" FROM PUBLIC");
        await TestSql.ExecuteAsync(db, "CREATE TABLE public.orders (id int PRIMARY KEY)");
        var source = CaptureHarness.Source(CaptureMode.Notify, "public.orders");
        await CaptureHarness.InstallAsync(source, db);
        await using var capture = new NotifyCapture(source, ConnectionSettings.Parse(db));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var stream = capture.ReadAllAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);
        var first = stream.MoveNextAsync().AsTask();
        await Task.Delay(500); // LISTEN is in place

        const string forged = """{"table":"orders","action":"DELETE","data":{"id":42}}""";
        await TestSql.ExecuteAsync(asNobody, $"SELECT pg_notify('{source.DatabaseObjectName}', '{forged}')");

        Assert.True(await first, "the look-alike notification was taken as a change");
        Assert.Equal(ChangeOperation.Delete, stream.Current.Operation);
        Assert.Equal("orders", stream.Current.Table);
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM public.orders"));
    }

    /// <summary>TRUNCATE is an event in the trigger modes; replica sessions are captured only when asked for.</summary>
    [Theory]
    [InlineData(CaptureMode.Durable)]
    [InlineData(CaptureMode.Notify)]
    public async Task TruncateIsCapturedAndReplicaSessionsOnlyWithTheOption(CaptureMode mode)
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE public.orders (id int PRIMARY KEY)");
        var source = CaptureHarness.Source(mode, "public.orders");
        await CaptureHarness.InstallAsync(source, db);

        await using var notify = mode == CaptureMode.Notify ? new NotifyCapture(source, ConnectionSettings.Parse(db)) : null;
        await using var durable = mode == CaptureMode.Durable ? new DurableCapture(source, ConnectionSettings.Parse(db)) : null;
        IChangeCapture capture = (IChangeCapture?)notify ?? durable!;
        var reading = CaptureHarness.TakeAsync(capture, 3);
        await Task.Delay(500);

        // Default: a replica session's insert is not captured (PostgreSQL's plain ENABLE).
        await TestSql.ExecuteAsync(db, "INSERT INTO orders VALUES (1); TRUNCATE orders;");
        await TestSql.ExecuteAsync(db, "SET session_replication_role = replica; INSERT INTO orders VALUES (2);");
        var changes = await CaptureHarness.InstallAsync(source, db, new InstallOptions { CaptureReplicaSessions = true });
        Assert.Equal(2, changes.Count(c => c.Kind == SchemaChangeKind.EnableTrigger));
        Assert.Equal(2L, await TestSql.ScalarAsync<long>(db,
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.orders'::regclass AND tgenabled = 'A'"));
        await TestSql.ExecuteAsync(db, "SET session_replication_role = replica; INSERT INTO orders VALUES (3);");

        var read = await reading;
        Assert.Equal([ChangeOperation.Insert, ChangeOperation.Truncate, ChangeOperation.Insert], read.Select(c => c.Operation));
        Assert.Equal("TRUNCATE", CaptureHarness.Payload(read[1]).GetProperty("action").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, CaptureHarness.Payload(read[1]).GetProperty("data").ValueKind);
        Assert.Equal(3, CaptureHarness.Payload(read[2]).GetProperty("data").GetProperty("id").GetInt32());

        // Installing again without the option keeps what is there; asking for false sets the plain ENABLE back.
        await using (var again = await SourceSchema.PlanInstallAsync(source, ConnectionSettings.Parse(db)))
        {
            Assert.False(again.HasChanges);
        }
        var back = await CaptureHarness.InstallAsync(source, db, new InstallOptions { CaptureReplicaSessions = false });
        Assert.Equal(2, back.Count(c => c.Kind == SchemaChangeKind.EnableTrigger));
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db,
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.orders'::regclass AND tgenabled = 'A'"));
    }
}
