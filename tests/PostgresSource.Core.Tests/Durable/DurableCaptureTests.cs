using Npgsql;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Capture.Durable;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Tests.Capture;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Core.Tests.Durable;

[Collection(DatabaseCollection.Name)]
public sealed class DurableCaptureTests(DatabaseFixture database, ITestOutputHelper output)
{
    private static CaptureOptions Fast => new() { JournalPollInterval = TimeSpan.FromMilliseconds(300), InitialReconnectDelay = TimeSpan.FromMilliseconds(100), MaxReconnectDelay = TimeSpan.FromSeconds(1) };

    [Fact]
    public async Task InstallsJournalAndCapturesEveryOperationWithDeterministicIds()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY, item text, qty int)");
        var source = CaptureHarness.Source(CaptureMode.Durable, "orders");
        var name = source.DatabaseObjectName;

        var changes = await CaptureHarness.InstallAsync(source, db);
        Assert.Equal(
            [SchemaChangeKind.CreateSchema, SchemaChangeKind.CreateTable, SchemaChangeKind.CreateFunction, SchemaChangeKind.GrantAccess, SchemaChangeKind.CreateTable, SchemaChangeKind.CreateTrigger, SchemaChangeKind.CreateTrigger],
            changes.Select(c => c.Kind));
        await using (var again = await SourceSchema.PlanInstallAsync(source, ConnectionSettings.Parse(db)))
        {
            Assert.False(again.HasChanges);
        }

        await TestSql.ExecuteAsync(db, "INSERT INTO orders VALUES (1, 'apple', 3); UPDATE orders SET qty = 4 WHERE id = 1; DELETE FROM orders WHERE id = 1");

        await using var capture = new DurableCapture(source, ConnectionSettings.Parse(db), Fast);
        var read = await CaptureHarness.TakeAsync(capture, 3);
        Assert.Equal([ChangeOperation.Insert, ChangeOperation.Update, ChangeOperation.Delete], read.Select(c => c.Operation));
        var update = CaptureHarness.Payload(read[1]);
        Assert.Equal("orders", update.GetProperty("table").GetString());
        Assert.Equal("public", update.GetProperty("schema").GetString());
        Assert.Equal("UPDATE", update.GetProperty("action").GetString());
        Assert.Equal(4, update.GetProperty("data").GetProperty("qty").GetInt32());
        Assert.Equal(3, update.GetProperty("old").GetProperty("qty").GetInt32());
        Assert.Equal(4, CaptureHarness.Payload(read[2]).GetProperty("data").GetProperty("qty").GetInt32());
        Assert.All(read, c => Assert.StartsWith(name + "-", c.Id));
        Assert.Equal(3, read.Select(c => c.Id).Distinct().Count());
        Assert.All(read, c => Assert.False(string.IsNullOrEmpty(c.TransactionId)));

        await capture.DisposeAsync();
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, $"SELECT count(*) FROM \"{name}\".journal"));
    }

    [Fact]
    public async Task TransactionThatCommitsLaterWithSmallerIdIsNotSkipped()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE t (id int PRIMARY KEY)");
        var source = CaptureHarness.Source(CaptureMode.Durable, "t");
        await CaptureHarness.InstallAsync(source, db);

        await using var early = new NpgsqlConnection(db);
        await early.OpenAsync();
        await using var tx = await early.BeginTransactionAsync();
        await using (var insert = new NpgsqlCommand("INSERT INTO t VALUES (1)", early, tx))
        {
            await insert.ExecuteNonQueryAsync(); // takes journal id 1 and stays open
        }
        await TestSql.ExecuteAsync(db, "INSERT INTO t VALUES (2)"); // journal id 2, commits first

        await using var capture = new DurableCapture(source, ConnectionSettings.Parse(db), Fast);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var reader = capture.ReadAllAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        Assert.True(await reader.MoveNextAsync());
        Assert.Equal(2, CaptureHarness.Payload(reader.Current).GetProperty("data").GetProperty("id").GetInt32());
        await capture.AcknowledgeAsync(reader.Current, cts.Token);

        await Task.Delay(1000); // several sweeps pass the late row's position while it is uncommitted
        await tx.CommitAsync();
        Assert.True(await reader.MoveNextAsync());
        Assert.Equal(1, CaptureHarness.Payload(reader.Current).GetProperty("data").GetProperty("id").GetInt32());
    }

    /// <summary>A new database with table t (ids 1..rows) under a Durable source whose journal already holds those rows.</summary>
    private async Task<(string Db, SourceDefinition Source)> DurableTableWithRowsAsync(int rows)
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE t (id int PRIMARY KEY)");
        var source = CaptureHarness.Source(CaptureMode.Durable, "t");
        await CaptureHarness.InstallAsync(source, db);
        await TestSql.ExecuteAsync(db, $"INSERT INTO t SELECT g FROM generate_series(1, {rows}) g");
        return (db, source);
    }

    [Fact]
    public async Task BacklogReadAheadKeepsOrderAndAStopMidBacklogLosesNothing()
    {
        var (db, source) = await DurableTableWithRowsAsync(1000);
        // Batches of 40: the backlog takes 25 reads, each (but the last) read while the one before is consumed.
        var options = Fast with { BatchSize = 40 };

        var first = new List<int>();
        await using (var capture = new DurableCapture(source, ConnectionSettings.Parse(db), options))
        {
            var read = await CaptureHarness.TakeAsync(capture, 130, acknowledge: false);
            for (var i = 0; i < read.Count; i++)
            {
                first.Add(CaptureHarness.Payload(read[i]).GetProperty("data").GetProperty("id").GetInt32());
                if (i < 100)
                {
                    await capture.AcknowledgeAsync(read[i], CancellationToken.None);
                }
            }
        }
        // Stopped while a read-ahead was due: the first 100 are gone, the 30 read but unacknowledged come again.
        Assert.Equal(Enumerable.Range(1, 130), first);
        Assert.Equal(900L, await TestSql.ScalarAsync<long>(db, $"SELECT count(*) FROM \"{source.DatabaseObjectName}\".journal"));

        await using var resumed = new DurableCapture(source, ConnectionSettings.Parse(db), options);
        var rest = (await CaptureHarness.TakeAsync(resumed, 900))
            .Select(c => CaptureHarness.Payload(c).GetProperty("data").GetProperty("id").GetInt32());
        Assert.Equal(Enumerable.Range(101, 900), rest);
    }

    [Fact]
    public async Task WritersSendNoNotifyAndTheReaderStillFindsARowAfterAQuietSpell()
    {
        var (db, source) = await DurableTableWithRowsAsync(0);
        await using var listener = new NpgsqlConnection(db);
        await listener.OpenAsync();
        var notified = 0;
        listener.Notification += (_, _) => Interlocked.Increment(ref notified);
        await using (var listen = new NpgsqlCommand($"LISTEN \"{source.DatabaseObjectName}\"", listener))
        {
            await listen.ExecuteNonQueryAsync();
        }

        // Default pacing: at most 100 ms between reads of an empty journal.
        await using var capture = new DurableCapture(source, ConnectionSettings.Parse(db));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var reader = capture.ReadAllAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        var next = reader.MoveNextAsync().AsTask();
        await Task.Delay(1000); // the reader has backed off to its longest wait
        Assert.False(next.IsCompleted);

        var written = System.Diagnostics.Stopwatch.StartNew();
        await TestSql.ExecuteAsync(db, "INSERT INTO t VALUES (7)");
        Assert.True(await next);
        var found = written.Elapsed;
        Assert.Equal(7, CaptureHarness.Payload(reader.Current).GetProperty("data").GetProperty("id").GetInt32());
        output.WriteLine($"read {found.TotalMilliseconds:F0} ms after the commit");
        Assert.True(found < TimeSpan.FromSeconds(2), $"read only after {found.TotalMilliseconds:F0} ms");

        // The write sent nothing on the source's channel (a NOTIFY would serialise writers' commits).
        Assert.False(await listener.WaitAsync(500));
        Assert.Equal(0, notified);
    }

    [Fact]
    public async Task AcknowledgedRowsAreDeletedWhileTheCaptureKeepsReading()
    {
        var (db, source) = await DurableTableWithRowsAsync(20);
        var options = Fast with { AcknowledgeFlushCount = 5, AcknowledgeFlushInterval = TimeSpan.FromMinutes(1) };

        await using var capture = new DurableCapture(source, ConnectionSettings.Parse(db), options);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var reader = capture.ReadAllAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        for (var i = 0; i < 20; i++)
        {
            Assert.True(await reader.MoveNextAsync());
            await capture.AcknowledgeAsync(reader.Current, cts.Token);
        }

        // Acknowledging only wakes the reader: its next poll deletes the rows in the same round trip, while the
        // capture is still reading (not at dispose).
        var pending = Task.Run(async () => await reader.MoveNextAsync(), cts.Token);
        while (await TestSql.ScalarAsync<long>(db, $"SELECT count(*) FROM \"{source.DatabaseObjectName}\".journal") > 0)
        {
            await Task.Delay(50, cts.Token);
        }
        Assert.False(pending.IsCompleted);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
    }

    [Fact]
    public async Task OneMegabyteRowArrivesWhole()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE docs (id int PRIMARY KEY, body text)");
        var source = CaptureHarness.Source(CaptureMode.Durable, "docs");
        await CaptureHarness.InstallAsync(source, db);
        var body = RandomText(1024 * 1024);
        await using (var connection = new NpgsqlConnection(db))
        {
            await connection.OpenAsync();
            await using var insert = new NpgsqlCommand("INSERT INTO docs VALUES (1, @body)", connection);
            insert.Parameters.AddWithValue("body", body);
            Assert.Equal(1, await insert.ExecuteNonQueryAsync());
        }

        await using var capture = new DurableCapture(source, ConnectionSettings.Parse(db), Fast);
        var read = await CaptureHarness.TakeAsync(capture, 1);
        var data = CaptureHarness.Payload(read[0]).GetProperty("data");
        Assert.Equal(body, data.GetProperty("body").GetString());
        output.WriteLine($"1 MB row: payload of {read[0].PayloadJson.Length} characters arrived whole.");
    }

    internal static string RandomText(int length)
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        var random = new Random(42);
        return string.Create(length, random, (span, r) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = alphabet[r.Next(alphabet.Length)];
            }
        });
    }
}

[Collection(DatabaseCollection.Name)]
public sealed class DurableFaultTests(DatabaseFixture database, ITestOutputHelper output)
{
    [Fact]
    public async Task EveryChangeArrivesDespiteCrashesKilledBackendsAndARestart()
    {
        Assert.NotNull(database.Server.Local);
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE events (writer int, seq int, note text, PRIMARY KEY (writer, seq))");
        var source = CaptureHarness.Source(CaptureMode.Durable, "events");
        await CaptureHarness.InstallAsync(source, db);
        var options = new CaptureOptions
        {
            ApplicationName = FaultScenario.CaptureApplicationName,
            JournalPollInterval = TimeSpan.FromMilliseconds(500),
            InitialReconnectDelay = TimeSpan.FromMilliseconds(100),
            MaxReconnectDelay = TimeSpan.FromSeconds(1),
            RetryInitialConnection = true,
        };

        await new FaultScenario(database, output).RunAsync(db, () => new DurableCapture(source, ConnectionSettings.Parse(db), options));

        // Acknowledged rows were removed: the journal does not keep what was delivered.
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, $"SELECT count(*) FROM \"{source.DatabaseObjectName}\".journal"));
    }
}
