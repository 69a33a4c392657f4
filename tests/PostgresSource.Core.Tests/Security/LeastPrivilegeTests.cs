using Npgsql;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Capture.Durable;
using PostgresSource.Core.Capture.Logical;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Tests.Capture;
using PostgresSource.Core.Tests.Logical;
using PostgresSource.TestSupport;
using PostgresSource.Core.Capture.Notify;

namespace PostgresSource.Core.Tests.Security;

/// <summary>
/// A table owner that is not a superuser, given exactly the privileges docs/security.md lists for a mode, installs
/// a source, snapshots and listens; the privilege check finds nothing missing. A role given one privilege less is
/// told which one, with the statement that grants it, and its install changes nothing.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class LeastPrivilegeTests(DatabaseFixture database)
{
    /// <summary>What the table lists per mode, granted by a superuser (the DBA) to the table's owner.</summary>
    private static string Grants(CaptureMode mode, string role, string db) => mode switch
    {
        CaptureMode.Notify => $"GRANT CREATE ON SCHEMA public TO {role}",
        CaptureMode.Durable => $"GRANT CREATE ON DATABASE \"{db}\" TO {role}",
        CaptureMode.Logical => $"GRANT CREATE ON DATABASE \"{db}\" TO {role}; ALTER ROLE {role} REPLICATION",
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };

    private static async Task<string> TableOwnerAsync(string db, string role)
    {
        await TestSql.ExecuteAsync(db, $"""
            CREATE ROLE {role} LOGIN PASSWORD 'pw' NOSUPERUSER NOCREATEDB NOCREATEROLE;
            CREATE TABLE public.orders (id int PRIMARY KEY, item text);
            ALTER TABLE public.orders OWNER TO {role};
            INSERT INTO public.orders VALUES (1, 'before');
            """);
        return new NpgsqlConnectionStringBuilder(db) { Username = role, Password = "pw" }.ConnectionString;
    }

    [Theory]
    [InlineData(CaptureMode.Notify)]
    [InlineData(CaptureMode.Durable)]
    [InlineData(CaptureMode.Logical)]
    public async Task ATableOwnerWithTheDocumentedPrivilegesInstallsAndListens(CaptureMode mode)
    {
        var db = await database.CreateDatabaseAsync();
        var role = "owner_" + Guid.NewGuid().ToString("N")[..8];
        var asOwner = await TableOwnerAsync(db, role);
        await TestSql.ExecuteAsync(db, Grants(mode, role, new NpgsqlConnectionStringBuilder(db).Database!));
        var source = CaptureHarness.Source(mode, "public.orders");

        var check = await PrivilegeCheck.CheckAsync(ConnectionSettings.Parse(asOwner), [mode], source.Tables);
        Assert.All(check, r => Assert.True(r.Granted, $"{r.Purpose}: {r.Privilege} on {r.Target}"));

        var snapshot = mode != CaptureMode.Notify;
        await CaptureHarness.InstallAsync(source, asOwner, new InstallOptions { Snapshot = snapshot });
        await using IChangeCapture capture = mode switch
        {
            CaptureMode.Notify => new NotifyCapture(source, ConnectionSettings.Parse(asOwner)),
            CaptureMode.Durable => new DurableCapture(source, ConnectionSettings.Parse(asOwner), new CaptureOptions { Snapshot = true, JournalPollInterval = TimeSpan.FromMilliseconds(200) }),
            _ => new LogicalCapture(source, ConnectionSettings.Parse(asOwner), LogicalCaptureTests.Fast with { Snapshot = true }),
        };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var stream = capture.ReadAllAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);
        if (snapshot)
        {
            // The snapshot's one row first; its transaction is fixed by then, so the insert below is a live change.
            Assert.True(await stream.MoveNextAsync());
            Assert.Equal(ChangeOperation.Read, stream.Current.Operation);
            await capture.AcknowledgeAsync(stream.Current, timeout.Token);
        }
        var next = stream.MoveNextAsync().AsTask();
        await Task.Delay(mode == CaptureMode.Notify ? 700 : 0); // Notify: LISTEN is in place before the write
        await TestSql.ExecuteAsync(asOwner, "INSERT INTO public.orders VALUES (2, 'after')");
        Assert.True(await next);
        var live = stream.Current;
        await capture.AcknowledgeAsync(live, timeout.Token);

        Assert.Equal(ChangeOperation.Insert, live.Operation);
        Assert.Equal(2, CaptureHarness.Payload(live).GetProperty("data").GetProperty("id").GetInt32());
        Assert.False(await TestSql.ScalarAsync<bool>(db, "SELECT rolsuper FROM pg_roles WHERE rolname = @r", ("r", role)));
        await stream.DisposeAsync();
        await capture.DisposeAsync();
        await CaptureHarness.UninstallAsync(source, asOwner);
    }

    [Theory]
    [InlineData(CaptureMode.Notify, "CREATE", "schema public")]
    [InlineData(CaptureMode.Durable, "CREATE", "database")]
    [InlineData(CaptureMode.Logical, "REPLICATION", "role")]
    public async Task OnePrivilegeShortIsReportedWithItsGrantAndTheInstallChangesNothing(CaptureMode mode, string privilege, string target)
    {
        var db = await database.CreateDatabaseAsync();
        var role = "owner_" + Guid.NewGuid().ToString("N")[..8];
        var asOwner = await TableOwnerAsync(db, role);
        var dbName = new NpgsqlConnectionStringBuilder(db).Database!;
        // Logical is short only of REPLICATION; the others get nothing.
        if (mode == CaptureMode.Logical)
        {
            await TestSql.ExecuteAsync(db, $"GRANT CREATE ON DATABASE \"{dbName}\" TO {role}");
        }
        var source = CaptureHarness.Source(mode, "public.orders");

        var missing = (await PrivilegeCheck.CheckAsync(ConnectionSettings.Parse(asOwner), [mode], source.Tables)).Where(r => !r.Granted).ToList();

        var install = Assert.Single(missing, r => r.Purpose == PrivilegePurpose.Install);
        Assert.Equal(privilege, install.Privilege);
        Assert.StartsWith(target, install.Target);
        Assert.Contains(role, install.Fix);
        await Assert.ThrowsAnyAsync<Exception>(() => CaptureHarness.InstallAsync(source, asOwner));
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db,
            "SELECT (SELECT count(*) FROM pg_proc WHERE proname LIKE 'postgressource%') + (SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'postgressource%') " +
            "+ (SELECT count(*) FROM pg_publication) + (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal)"));
    }

    [Fact]
    public async Task AMissingTableAndAServerWithoutLogicalWalAreNamed()
    {
        var db = await database.CreateDatabaseAsync();
        var check = await PrivilegeCheck.CheckAsync(ConnectionSettings.Parse(db), [CaptureMode.Notify, CaptureMode.Durable, CaptureMode.Logical], [TableName.Parse("public.nope")]);

        Assert.Equal(3, check.Count(r => r.Privilege == "table exists and is visible" && !r.Granted));
        var walLevel = await TestSql.ScalarAsync<string>(db, "SELECT current_setting('wal_level')");
        Assert.Equal(walLevel == "logical", check.Single(r => r.Privilege == "wal_level = logical").Granted);
        // A superuser has every privilege the catalog can grant.
        Assert.All(check.Where(r => r.Privilege is "CREATE" or "REPLICATION" or "CONNECT"), r => Assert.True(r.Granted));
    }
}
