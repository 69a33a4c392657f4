using Npgsql;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Capture.Logical;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Tests.Capture;
using PostgresSource.Core.Tests.Durable;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Core.Tests.Logical;

[Collection(DatabaseCollection.Name)]
public sealed class LogicalCaptureTests(DatabaseFixture database, ITestOutputHelper output)
{
    internal static CaptureOptions Fast => new()
    {
        StatusInterval = TimeSpan.FromMilliseconds(500),
        InitialReconnectDelay = TimeSpan.FromMilliseconds(100),
        MaxReconnectDelay = TimeSpan.FromSeconds(1),
    };

    [Fact]
    public async Task InstallsPublicationAndSlotAndStreamsChangesWithOldRowsAndCommitInfo()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY, item text, qty int, price numeric, ok boolean, tags jsonb)");
        var source = CaptureHarness.Source(CaptureMode.Logical, "orders");
        var name = source.DatabaseObjectName;

        var plan = await CaptureHarness.InstallAsync(source, db, new InstallOptions { ReplicaIdentityFull = true });
        Assert.Equal([SchemaChangeKind.AlterTable, SchemaChangeKind.CreatePublication, SchemaChangeKind.CreateSchema, SchemaChangeKind.CreateTable, SchemaChangeKind.CreateSlot], plan.Select(c => c.Kind));
        Assert.True(plan.Single(c => c.Kind == SchemaChangeKind.CreateSlot).OutsideTransaction);
        Assert.Equal('f', await TestSql.ScalarAsync<char>(db, "SELECT relreplident FROM pg_class WHERE relname = 'orders'"));
        Assert.Equal(name, await TestSql.ScalarAsync<string>(db, "SELECT slot_name::text FROM pg_replication_slots WHERE slot_name = @n", ("n", name)));
        await using (var again = await SourceSchema.PlanInstallAsync(source, ConnectionSettings.Parse(db), new InstallOptions { ReplicaIdentityFull = true }))
        {
            Assert.False(again.HasChanges);
        }

        await TestSql.ExecuteAsync(db, """
            INSERT INTO orders VALUES (1, 'apple', 3, 1.50, true, '{"a": [1, 2]}');
            UPDATE orders SET qty = 4 WHERE id = 1;
            DELETE FROM orders WHERE id = 1;
            TRUNCATE orders;
            """);

        await using var capture = new LogicalCapture(source, ConnectionSettings.Parse(db), Fast);
        var read = await CaptureHarness.TakeAsync(capture, 4);
        Assert.Equal([ChangeOperation.Insert, ChangeOperation.Update, ChangeOperation.Delete, ChangeOperation.Truncate], read.Select(c => c.Operation));
        var insert = CaptureHarness.Payload(read[0]).GetProperty("data");
        Assert.Equal(3, insert.GetProperty("qty").GetInt32());
        Assert.Equal(1.50m, insert.GetProperty("price").GetDecimal());
        Assert.True(insert.GetProperty("ok").GetBoolean());
        Assert.Equal(2, insert.GetProperty("tags").GetProperty("a")[1].GetInt32());
        var update = CaptureHarness.Payload(read[1]);
        Assert.Equal(4, update.GetProperty("data").GetProperty("qty").GetInt32());
        Assert.Equal(3, update.GetProperty("old").GetProperty("qty").GetInt32());
        var delete = CaptureHarness.Payload(read[2]);
        Assert.Equal("apple", delete.GetProperty("data").GetProperty("item").GetString());
        Assert.Equal("TRUNCATE", CaptureHarness.Payload(read[3]).GetProperty("action").GetString());
        Assert.All(read, c =>
        {
            Assert.NotNull(c.Lsn);
            Assert.NotNull(c.CommitTime);
            Assert.False(string.IsNullOrEmpty(c.TransactionId));
            Assert.StartsWith(name + "-", c.Id);
        });
        Assert.Equal(4, read.Select(c => c.Id).Distinct().Count());
        Assert.Equal(read[0].Lsn, read[2].Lsn); // one transaction: one commit LSN
        output.WriteLine(string.Join("\n", read.Select(c => $"{c.Id} xid={c.TransactionId} lsn={c.Lsn} at {c.CommitTime:O}")));
    }

    [Fact]
    public async Task AcknowledgedChangesAreNotSentAgainAndUnacknowledgedOnesAre()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE t (id int PRIMARY KEY)");
        var source = CaptureHarness.Source(CaptureMode.Logical, "t");
        await CaptureHarness.InstallAsync(source, db);
        foreach (var id in new[] { 1, 2, 3 })
        {
            await TestSql.ExecuteAsync(db, $"INSERT INTO t VALUES ({id})"); // three transactions
        }

        var first = new LogicalCapture(source, ConnectionSettings.Parse(db), Fast);
        var got = await CaptureHarness.TakeAsync(first, 3, acknowledge: false);
        await first.AcknowledgeAsync(got[1], CancellationToken.None); // 1 and 2 done; 3 not
        await first.DisposeAsync();

        await using var second = new LogicalCapture(source, ConnectionSettings.Parse(db), Fast);
        var again = await CaptureHarness.TakeAsync(second, 1);
        Assert.Equal(got[2].Id, again[0].Id);
        Assert.Equal(3, CaptureHarness.Payload(again[0]).GetProperty("data").GetProperty("id").GetInt32());
    }

    [Fact]
    public async Task UnchangedToastedValuesAreMarkedNotInventedAndOneMegabyteRowArrivesWhole()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE docs (id int PRIMARY KEY, title text, body text); CREATE TABLE full_docs (id int PRIMARY KEY, title text, body text); ALTER TABLE full_docs REPLICA IDENTITY FULL");
        var source = CaptureHarness.Source(CaptureMode.Logical, "docs", "full_docs");
        await CaptureHarness.InstallAsync(source, db);
        var body = DurableCaptureTests.RandomText(1024 * 1024);
        await using (var connection = new NpgsqlConnection(db))
        {
            await connection.OpenAsync();
            await using var insert = new NpgsqlCommand("INSERT INTO docs VALUES (1, 'a', @body); INSERT INTO full_docs VALUES (1, 'a', @body)", connection);
            insert.Parameters.AddWithValue("body", body);
            await insert.ExecuteNonQueryAsync();
        }
        await TestSql.ExecuteAsync(db, "UPDATE docs SET title = 'b'; UPDATE full_docs SET title = 'b'");

        await using var capture = new LogicalCapture(source, ConnectionSettings.Parse(db), Fast);
        var read = await CaptureHarness.TakeAsync(capture, 4);
        Assert.Equal(body, CaptureHarness.Payload(read[0]).GetProperty("data").GetProperty("body").GetString());
        Assert.Equal(body, CaptureHarness.Payload(read[1]).GetProperty("data").GetProperty("body").GetString());

        var update = CaptureHarness.Payload(read[2]);
        Assert.Equal("docs", update.GetProperty("table").GetString());
        Assert.Equal("b", update.GetProperty("data").GetProperty("title").GetString());
        Assert.False(update.GetProperty("data").TryGetProperty("body", out _));
        Assert.Equal(["body"], update.GetProperty("unchangedToasted").EnumerateArray().Select(e => e.GetString()));

        var fullUpdate = CaptureHarness.Payload(read[3]);
        Assert.Equal("full_docs", fullUpdate.GetProperty("table").GetString());
        Assert.Equal(body, fullUpdate.GetProperty("data").GetProperty("body").GetString()); // from the old row: unchanged, not invented
        Assert.False(fullUpdate.TryGetProperty("unchangedToasted", out _));
        output.WriteLine($"1 MB row: payload of {read[0].PayloadJson.Length} characters arrived whole.");
    }

    [Fact]
    public async Task IdleSourceLetsTheServerRecycleWal()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE watched (id int PRIMARY KEY); CREATE TABLE other (id int, filler text)");
        var source = CaptureHarness.Source(CaptureMode.Logical, "watched");
        var name = source.DatabaseObjectName;
        await CaptureHarness.InstallAsync(source, db);

        await using var capture = new LogicalCapture(source, ConnectionSettings.Parse(db), Fast);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var reading = Task.Run(async () =>
        {
            await foreach (var change in capture.ReadAllAsync(cts.Token))
            {
                await capture.AcknowledgeAsync(change, cts.Token);
            }
        });

        for (var i = 0; i < 50 && !capture.IsReady; i++)
        {
            await Task.Delay(100);
        }
        Assert.True(capture.IsReady); // streaming, though nothing has arrived

        // Lots of WAL, none of it for this source's publication.
        await TestSql.ExecuteAsync(db, "INSERT INTO other SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g");
        var target = await TestSql.ScalarAsync<string>(db, "SELECT pg_current_wal_lsn()::text");
        var advanced = false;
        for (var i = 0; i < 40 && !advanced; i++)
        {
            await Task.Delay(500);
            advanced = await TestSql.ScalarAsync<bool>(db,
                "SELECT confirmed_flush_lsn >= @target::pg_lsn FROM pg_replication_slots WHERE slot_name = @n", ("target", target!), ("n", name));
        }
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading);
        Assert.True(advanced, "the slot's confirmed position should follow the WAL while the source is idle");
    }

    [Fact]
    public async Task RoleWithoutReplicationGetsAClearError()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE t (id int PRIMARY KEY)");
        var source = CaptureHarness.Source(CaptureMode.Logical, "t");
        await CaptureHarness.InstallAsync(source, db);
        var role = "noreplication_" + Guid.NewGuid().ToString("N")[..8];
        await TestSql.ExecuteAsync(db, $"CREATE ROLE {role} LOGIN PASSWORD 'pw'");
        var limited = new NpgsqlConnectionStringBuilder(db) { Username = role, Password = "pw" }.ConnectionString;

        await using var capture = new LogicalCapture(source, ConnectionSettings.Parse(limited), Fast);
        var error = await Assert.ThrowsAsync<CaptureConfigurationException>(() => CaptureHarness.TakeAsync(capture, 1));
        Assert.Contains("REPLICATION", error.Message);

        await using var plan = await SourceSchema.PlanUninstallAsync(source, ConnectionSettings.Parse(db));
        var install = await Assert.ThrowsAsync<LogicalReplicationUnavailableException>(async () =>
            await SourceSchema.PlanInstallAsync(CaptureHarness.Source(CaptureMode.Logical, "t"), ConnectionSettings.Parse(limited)));
        Assert.Contains("REPLICATION", install.Message);
        output.WriteLine(error.Message);
    }
}

[Collection(DatabaseCollection.Name)]
public sealed class LogicalFaultTests(DatabaseFixture database, ITestOutputHelper output)
{
    [Fact]
    public async Task EveryChangeArrivesDespiteCrashesKilledBackendsAndARestart()
    {
        Assert.NotNull(database.Server.Local);
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE events (writer int, seq int, note text, PRIMARY KEY (writer, seq))");
        var source = CaptureHarness.Source(CaptureMode.Logical, "events");
        await CaptureHarness.InstallAsync(source, db);
        var options = LogicalCaptureTests.Fast with
        {
            ApplicationName = FaultScenario.CaptureApplicationName,
            RetryInitialConnection = true,
        };

        await new FaultScenario(database, output).RunAsync(db, () => new LogicalCapture(source, ConnectionSettings.Parse(db), options));

        var lag = await TestSql.ScalarAsync<decimal>(db,
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) FROM pg_replication_slots WHERE slot_name = @n", ("n", source.DatabaseObjectName));
        output.WriteLine($"slot lag after the last acknowledgement: {lag} bytes");
    }
}

public sealed class LogicalWithoutLogicalWalTests(ITestOutputHelper output)
{
    [Fact]
    public async Task ServerWithoutLogicalWalLevelGivesClearErrorsAtInstallAndCapture()
    {
        await using var cluster = await LocalCluster.StartAsync(settings: new Dictionary<string, string> { ["wal_level"] = "replica" });
        await TestSql.ExecuteAsync(cluster.ConnectionString, "CREATE TABLE t (id int PRIMARY KEY)");
        var source = CaptureHarness.Source(CaptureMode.Logical, "t");

        var install = await Assert.ThrowsAsync<LogicalReplicationUnavailableException>(async () =>
            await SourceSchema.PlanInstallAsync(source, ConnectionSettings.Parse(cluster.ConnectionString)));
        Assert.Contains("wal_level = logical", install.Message);
        Assert.Contains("wal_level = replica", install.Message);

        await using var capture = new LogicalCapture(source, ConnectionSettings.Parse(cluster.ConnectionString));
        var error = await Assert.ThrowsAsync<CaptureConfigurationException>(() => CaptureHarness.TakeAsync(capture, 1));
        Assert.Contains("wal_level", error.Message);
        output.WriteLine(install.Message);
    }
}
