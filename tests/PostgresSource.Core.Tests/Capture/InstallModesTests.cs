using Npgsql;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Capture.Durable;
using PostgresSource.Core.Capture.Logical;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Core.Tests.Capture;

[Collection(DatabaseCollection.Name)]
public sealed class InstallModesTests(DatabaseFixture database, ITestOutputHelper output)
{
    /// <summary>Everything any mode could leave behind for a source: schema, tables, functions, triggers, publication, slot.</summary>
    private static async Task<IReadOnlyList<string>> TracesAsync(string db, string name)
    {
        const string query = """
            SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname = @n
            UNION ALL SELECT 'table ' || c.relname FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname = @n OR c.relname = @n
            UNION ALL SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace WHERE s.nspname = @n OR p.proname = @n
            UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE tgname = @n
            UNION ALL SELECT 'publication ' || pubname FROM pg_publication WHERE pubname = @n
            UNION ALL SELECT 'slot ' || slot_name FROM pg_replication_slots WHERE slot_name = @n
            ORDER BY 1
            """;
        await using var connection = new NpgsqlConnection(db);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(query, connection);
        command.Parameters.AddWithValue("n", name);
        await using var reader = await command.ExecuteReaderAsync();
        var traces = new List<string>();
        while (await reader.ReadAsync())
        {
            traces.Add(reader.GetString(0));
        }
        return traces;
    }

    [Fact]
    public async Task DurableUninstallLeavesNoTraceAndTouchesNoOtherSource()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int)");
        var source = CaptureHarness.Source(CaptureMode.Durable, "a", "b");
        var other = CaptureHarness.Source(CaptureMode.Durable, "a");
        await CaptureHarness.InstallAsync(source, db, new InstallOptions { Snapshot = true });
        await CaptureHarness.InstallAsync(other, db);
        await TestSql.ExecuteAsync(db, "INSERT INTO a VALUES (1); INSERT INTO b VALUES (1)");
        Assert.NotEmpty(await TracesAsync(db, source.DatabaseObjectName));

        var removed = await CaptureHarness.UninstallAsync(source, db);
        output.WriteLine(string.Join("\n", removed.Select(c => c.Describe())));
        Assert.Empty(await TracesAsync(db, source.DatabaseObjectName));
        Assert.Equal(
            ["function capture", "schema " + other.DatabaseObjectName, "table journal", "table journal_id_seq", "table journal_pkey", "table snapshot", "table snapshot_pkey", "trigger " + other.DatabaseObjectName],
            await TracesAsync(db, other.DatabaseObjectName));
        await TestSql.ExecuteAsync(db, "INSERT INTO a VALUES (2); INSERT INTO b VALUES (2)"); // the user's writes still work

        await using var again = await SourceSchema.PlanUninstallAsync(source, ConnectionSettings.Parse(db));
        Assert.False(again.HasChanges);
    }

    [Fact]
    public async Task LogicalUninstallDropsSlotEvenWhileAListenerStreamsAndLeavesNoTrace()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE a (id int PRIMARY KEY)");
        var source = CaptureHarness.Source(CaptureMode.Logical, "a");
        await CaptureHarness.InstallAsync(source, db, new InstallOptions { Snapshot = true });
        var name = source.DatabaseObjectName;

        // A listener is streaming from the slot (the slot is active).
        await using var capture = new LogicalCapture(source, ConnectionSettings.Parse(db), Logical.LogicalCaptureTests.Fast);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var reading = Task.Run(async () =>
        {
            await foreach (var change in capture.ReadAllAsync(cts.Token))
            {
                await capture.AcknowledgeAsync(change, cts.Token);
            }
        });
        for (var i = 0; i < 100 && !await TestSql.ScalarAsync<bool>(db, "SELECT active FROM pg_replication_slots WHERE slot_name = @n", ("n", name)); i++)
        {
            await Task.Delay(100);
        }
        Assert.True(await TestSql.ScalarAsync<bool>(db, "SELECT active FROM pg_replication_slots WHERE slot_name = @n", ("n", name)));

        var removed = await CaptureHarness.UninstallAsync(source, db);
        output.WriteLine(string.Join("\n", removed.Select(c => c.Describe())));
        Assert.Contains(removed, c => c.Kind == SchemaChangeKind.DropSlot);
        Assert.Empty(await TracesAsync(db, name));

        // The listener's stream is gone for good: it stops with a clear error rather than retrying forever.
        var error = await Assert.ThrowsAsync<CaptureConfigurationException>(() => reading);
        output.WriteLine(error.Message);
    }

    [Fact]
    public async Task SwitchingModesRemovesTheOldModeAndInstallsTheNewWithAClearMessage()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE a (id int PRIMARY KEY, v text)");
        var source = CaptureHarness.Source(CaptureMode.Notify, "a");
        var name = source.DatabaseObjectName;
        var settings = ConnectionSettings.Parse(db);
        await CaptureHarness.InstallAsync(source, db);

        // Notify -> Durable
        await using (var toDurable = await SourceSchema.PlanModeSwitchAsync(source, CaptureMode.Durable, settings))
        {
            output.WriteLine(string.Join("\n", toDurable.Notes));
            Assert.Contains("from Notify to Durable", toDurable.Notes[0]);
            Assert.Contains(toDurable.Changes, c => c.Kind == SchemaChangeKind.DropFunction && c.Target.StartsWith("public."));
            await toDurable.ApplyAsync();
        }
        Assert.Equal(1L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_trigger WHERE tgname = @n", ("n", name)));
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace WHERE p.proname = @n", ("n", name)));
        await TestSql.ExecuteAsync(db, "INSERT INTO a VALUES (1, 'x')");
        Assert.Equal(1L, await TestSql.ScalarAsync<long>(db, $"SELECT count(*) FROM \"{name}\".journal"));

        // Durable -> Logical: the pending journal row is reported as lost.
        await using (var toLogical = await SourceSchema.PlanModeSwitchAsync(source, CaptureMode.Logical, settings))
        {
            output.WriteLine(string.Join("\n", toLogical.Notes));
            Assert.Contains(toLogical.Notes, n => n.Contains("1 change(s)"));
            await toLogical.ApplyAsync();
        }
        var traces = await TracesAsync(db, name);
        Assert.Contains("publication " + name, traces);
        Assert.Contains("slot " + name, traces);
        Assert.DoesNotContain("trigger " + name, traces);
        Assert.DoesNotContain("table journal", traces);

        // Logical -> Logical: nothing to do.
        await using (var same = await SourceSchema.PlanModeSwitchAsync(source with { Mode = CaptureMode.Logical }, CaptureMode.Logical, settings))
        {
            Assert.False(same.HasChanges);
            Assert.Contains("already in Logical mode", same.Notes[0]);
        }

        // Logical -> Notify: back to the seed's objects, nothing of the other modes left.
        await using (var toNotify = await SourceSchema.PlanModeSwitchAsync(source, CaptureMode.Notify, settings))
        {
            output.WriteLine(string.Join("\n", toNotify.Notes));
            await toNotify.ApplyAsync();
        }
        Assert.Equal(["function " + name, "trigger " + name], await TracesAsync(db, name));
    }

    [Fact]
    public async Task DurableTriggerNeverFailsTheWriteOfARoleThatCannotTouchTheJournal()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE a (id int PRIMARY KEY)");
        var source = CaptureHarness.Source(CaptureMode.Durable, "a");
        await CaptureHarness.InstallAsync(source, db);
        var role = "app_" + Guid.NewGuid().ToString("N")[..8];
        await TestSql.ExecuteAsync(db, $"CREATE ROLE {role} LOGIN PASSWORD 'pw'; GRANT INSERT, UPDATE, DELETE, SELECT ON a TO {role}; GRANT USAGE ON SCHEMA public TO {role}");
        var app = new NpgsqlConnectionStringBuilder(db) { Username = role, Password = "pw" }.ConnectionString;

        await TestSql.ExecuteAsync(app, "INSERT INTO a VALUES (1); UPDATE a SET id = 2; DELETE FROM a");

        await using var capture = new DurableCapture(source, ConnectionSettings.Parse(db));
        var read = await CaptureHarness.TakeAsync(capture, 3);
        Assert.Equal([ChangeOperation.Insert, ChangeOperation.Update, ChangeOperation.Delete], read.Select(c => c.Operation));
    }

    [Fact]
    public async Task ScriptsAreIdempotentSqlForEachMode()
    {
        var durable = CaptureHarness.Source(CaptureMode.Durable, "a");
        var logical = CaptureHarness.Source(CaptureMode.Logical, "a");
        var durableScript = SourceSchema.ScriptInstall(durable, new InstallOptions { Snapshot = true });
        var logicalScript = SourceSchema.ScriptInstall(logical, new InstallOptions { ReplicaIdentityFull = true });
        output.WriteLine(durableScript);
        output.WriteLine(logicalScript);

        // Run each twice against a real database: the second run changes nothing and fails on nothing.
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE a (id int PRIMARY KEY)");
        foreach (var script in new[] { durableScript, durableScript, logicalScript, logicalScript })
        {
            await TestSql.ExecuteAsync(db, script);
        }
        Assert.Contains("slot " + logical.DatabaseObjectName, await TracesAsync(db, logical.DatabaseObjectName));
        Assert.Contains("trigger " + durable.DatabaseObjectName, await TracesAsync(db, durable.DatabaseObjectName));
        await TestSql.ExecuteAsync(db, SourceSchema.ScriptUninstall(durable));
        await TestSql.ExecuteAsync(db, SourceSchema.ScriptUninstall(logical));
        Assert.Empty(await TracesAsync(db, durable.DatabaseObjectName));
        Assert.Empty(await TracesAsync(db, logical.DatabaseObjectName));
    }
}
