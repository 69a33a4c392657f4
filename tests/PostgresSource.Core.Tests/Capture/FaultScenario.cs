using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Npgsql;
using PostgresSource.Core.Capture;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Core.Tests.Capture;

/// <summary>
/// The fault test shared by Durable and Logical: several writers insert rows (some holding their
/// transaction open while others commit), while the capture is crashed (dropped without acknowledging
/// what it holds) three times, its server connections are killed with pg_terminate_backend, and
/// PostgreSQL is restarted once. At the end every committed row must have been read; duplicates are counted.
/// </summary>
internal sealed class FaultScenario(DatabaseFixture database, ITestOutputHelper output)
{
    public const string CaptureApplicationName = "pgsource-fault-capture";
    public const int Rows = 20_000;
    private const int Writers = 8;

    private readonly ConcurrentDictionary<string, int> _seen = new();
    private readonly ConcurrentDictionary<(int, int), int> _keys = new();
    private readonly ConcurrentQueue<string> _notices = new();
    private long _committed;
    private volatile bool _draining;
    private int _instance;
    private readonly ConcurrentDictionary<string, ConcurrentBag<int>> _readBy = new();

    public async Task RunAsync(string db, Func<IChangeCapture> create)
    {
        var clock = Stopwatch.StartNew();
        using var stopWriters = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(() => WriteAsync(db, w, stopWriters.Token))).ToArray();

        var consumer = Start(create);
        var crashes = 0;
        var kills = 0;

        async Task CrashAsync()
        {
            await consumer.CrashAsync();
            crashes++;
            output.WriteLine($"{clock.Elapsed:mm\\:ss} crash {crashes}: capture dropped after {_seen.Count} distinct changes, without acknowledging what it held");
            consumer = Start(create);
        }

        async Task KillAsync()
        {
            long killed = 0;
            for (var attempt = 0; attempt < 100 && killed == 0; attempt++)
            {
                // The capture may be between connections: wait until it has some to kill.
                killed = await TestSql.ScalarAsync<long>(db,
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = @app AND pid <> pg_backend_pid()",
                    ("app", CaptureApplicationName));
                if (killed == 0)
                {
                    await Task.Delay(50);
                }
            }
            kills++;
            output.WriteLine($"{clock.Elapsed:mm\\:ss} pg_terminate_backend: {killed} capture backend(s) killed after {_seen.Count} distinct changes");
        }

        await WaitForAsync(() => _seen.Count >= 2_000);
        await CrashAsync();
        await WaitForAsync(() => _seen.Count >= 5_000);
        await KillAsync();
        await WaitForAsync(() => _seen.Count >= 7_000);
        await CrashAsync();
        await WaitForAsync(() => _seen.Count >= 10_000);
        output.WriteLine($"{clock.Elapsed:mm\\:ss} restarting PostgreSQL after {_seen.Count} distinct changes");
        try
        {
            await database.Server.Local!.RestartAsync();
        }
        catch (InvalidOperationException)
        {
            var log = Path.Combine(database.Server.Local!.DataDirectory, "..", "server.log");
            foreach (var line in File.ReadLines(log).Where(l => !l.Contains("statement:") && !l.Contains("is shutting down")).TakeLast(40))
            {
                output.WriteLine("server.log: " + line);
            }
            throw;
        }
        output.WriteLine($"{clock.Elapsed:mm\\:ss} PostgreSQL is back");
        await WaitForAsync(() => _seen.Count >= 13_000);
        await KillAsync();
        await WaitForAsync(() => _seen.Count >= 15_000);
        await CrashAsync();

        await Task.WhenAll(writers);
        _draining = true;
        await CrashAsync(); // a fourth crash: the last consumer acknowledges everything it reads
        var truth = await CommittedKeysAsync(db);
        output.WriteLine($"{clock.Elapsed:mm\\:ss} writers done: {truth.Count} rows committed");
        await WaitForAsync(() => truth.All(_keys.ContainsKey), TimeSpan.FromSeconds(120));
        await Task.Delay(500);
        await consumer.CrashAsync();
        Assert.Null(consumer.Error);

        var deliveries = _seen.Values.Sum();
        var duplicates = deliveries - _seen.Count;
        output.WriteLine($"rows written: {truth.Count}; changes read: {deliveries}; distinct ids: {_seen.Count}; duplicates: {duplicates} " +
                         $"({_seen.Count(p => p.Value > 1)} ids more than once); crashes: {crashes}; backend kills: {kills}; restarts: 1; time {clock.Elapsed:mm\\:ss}");
        var within = _readBy.Values.Sum(b => b.Count - b.Distinct().Count());
        output.WriteLine($"duplicates by the same capture instance: {within}; by a later instance: {duplicates - within}; " +
                         string.Join(", ", Enumerable.Range(1, _instance).Select(i => $"instance {i} read {_readBy.Values.Sum(b => b.Count(x => x == i))}")));
        foreach (var notice in _notices.Take(40))
        {
            output.WriteLine("notice: " + notice);
        }

        Assert.True(truth.Count >= Rows, $"expected at least {Rows} rows, {truth.Count} committed");
        Assert.Equal(truth.Count, _seen.Count);                        // distinct ids == changes written
        Assert.Empty(truth.Where(k => !_keys.ContainsKey(k)));          // every committed row arrived
        Assert.Empty(_keys.Keys.Where(k => !truth.Contains(k)));        // and nothing that was not committed
        Assert.True(crashes >= 3 && kills >= 2);
    }

    private RecordingConsumer Start(Func<IChangeCapture> create)
    {
        var capture = create();
        capture.Notice += n => _notices.Enqueue($"[{_seen.Count}] {n.Message}");
        var log = new ConcurrentQueue<CapturedChange>();
        var instance = Interlocked.Increment(ref _instance);
        // Until the writers are done, acknowledge only every 40 changes: a crash then drops up to 39 read but unacknowledged.
        var consumer = new RecordingConsumer(capture, _seen, log, ackEvery: 40) { AckWhenIdle = _draining };
        _ = Task.Run(async () =>
        {
            // Parse rows off the consumer's path.
            while (!consumer.Stopped)
            {
                while (log.TryDequeue(out var change))
                {
                    _readBy.GetOrAdd(change.Id!, _ => new()).Add(instance);
                    var data = JsonDocument.Parse(change.PayloadJson).RootElement.GetProperty("data");
                    _keys.AddOrUpdate((data.GetProperty("writer").GetInt32(), data.GetProperty("seq").GetInt32()), 1, (_, n) => n + 1);
                }
                await Task.Delay(20);
            }
            while (log.TryDequeue(out var change))
            {
                var data = JsonDocument.Parse(change.PayloadJson).RootElement.GetProperty("data");
                _keys.AddOrUpdate((data.GetProperty("writer").GetInt32(), data.GetProperty("seq").GetInt32()), 1, (_, n) => n + 1);
            }
        });
        return consumer;
    }

    private async Task WaitForAsync(Func<bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(90));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Gave up waiting: {_seen.Count} distinct changes read, {Interlocked.Read(ref _committed)} rows committed.");
            }
            await Task.Delay(50);
        }
    }

    /// <summary>One writer: transactions of 1..20 rows; writers 0 and 1 hold theirs open for a while before committing, so later ids commit first.</summary>
    private async Task WriteAsync(string db, int writer, CancellationToken token)
    {
        var random = new Random(writer);
        var seq = 0;
        NpgsqlConnection? connection = null;
        while (Interlocked.Read(ref _committed) < Rows && !token.IsCancellationRequested)
        {
            try
            {
                if (connection is null)
                {
                    connection = new NpgsqlConnection(db);
                    await connection.OpenAsync(token);
                }
                var count = random.Next(1, 21);
                await using var transaction = await connection.BeginTransactionAsync(token);
                for (var i = 0; i < count; i++)
                {
                    await using var insert = new NpgsqlCommand("INSERT INTO events (writer, seq, note) VALUES (@w, @s, @n)", connection, transaction);
                    insert.Parameters.AddWithValue("w", writer);
                    insert.Parameters.AddWithValue("s", ++seq);
                    insert.Parameters.AddWithValue("n", $"writer {writer} row {seq}");
                    await insert.ExecuteNonQueryAsync(token);
                }
                if (writer < 2)
                {
                    await Task.Delay(random.Next(20, 250), token);
                }
                await transaction.CommitAsync(token);
                Interlocked.Add(ref _committed, count);
                // Paced, so that the faults below happen while rows are still being written (about 20 seconds in all).
                await Task.Delay(random.Next(40, 120), token);
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException or InvalidOperationException or TimeoutException)
            {
                // The server went away (restart): the open transaction is lost or its outcome unknown; the table says which.
                if (connection is not null)
                {
                    await connection.DisposeAsync();
                    connection = null;
                }
                await Task.Delay(200, CancellationToken.None);
            }
        }
        if (connection is not null)
        {
            await connection.DisposeAsync();
        }
    }

    private static async Task<HashSet<(int, int)>> CommittedKeysAsync(string db)
    {
        var keys = new HashSet<(int, int)>();
        await using var connection = new NpgsqlConnection(db);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT writer, seq FROM events", connection);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            keys.Add((reader.GetInt32(0), reader.GetInt32(1)));
        }
        return keys;
    }
}
