using System.Collections.Concurrent;
using System.Text.Json;
using Npgsql;
using PostgresSource.TestReceivers;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Adapter.Tests;

/// <summary>
/// Issue 4's proof of "no event lost": 20,000 rows from concurrent writers (one keeps transactions
/// open while the others commit), the adapter process killed with SIGKILL three times, the sink
/// answering 503 for a stretch, and PostgreSQL restarted once. Every committed row must arrive;
/// duplicates are allowed (at least once) and are counted.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class FaultToleranceTests(DatabaseFixture database, ITestOutputHelper output)
{
    private const int Writers = 4;
    private const int RowsPerWriter = 5_000;

    [Theory]
    [InlineData("Durable")]
    [InlineData("Logical")]
    public async Task EveryCommittedChangeArrivesDespiteKillsOutageAndRestart(string mode)
    {
        var db = await database.CreateDatabaseAsync("f");
        await TestSql.ExecuteAsync(db, "CREATE TABLE items (id bigint PRIMARY KEY, writer int NOT NULL, body text NOT NULL)");

        var outage = 0;
        await using var receiver = await CloudEventReceiver.StartAsync(_ => Volatile.Read(ref outage) == 1 ? 503 : 200);
        var environment = new Dictionary<string, string>
        {
            ["K_SINK"] = receiver.Url.ToString(),
            ["NAME"] = "faults-" + mode.ToLowerInvariant(),
            ["NAMESPACE"] = "test",
            ["PGSOURCE_TABLES"] = "items",
            ["PGSOURCE_MODE"] = mode,
            ["PGSOURCE_CONNECTION"] = db,
            ["PGSOURCE_HTTP_PORT"] = AdapterProcess.FreePort().ToString(),
            ["PGSOURCE_DELIVERY_ATTEMPTS"] = "1000",
            ["PGSOURCE_DELIVERY_BACKOFF_DELAY"] = "50ms",
            ["PGSOURCE_DELIVERY_MAX_BACKOFF_DELAY"] = "PT0.5S",
        };

        AdapterProcess adapter = AdapterProcess.Start(environment);
        // The first start installs the source's objects; writes before that would not be captured.
        await adapter.WaitForLogAsync(l => l.TryGetProperty("msg", out var m) && m.GetString() == "listening", TimeSpan.FromSeconds(60));

        using var stopWriters = new CancellationTokenSource();
        var writerErrors = new ConcurrentBag<string>();
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(() => WriteAsync(db, w, writerErrors))).ToList();

        var kills = 0;
        var restarted = false;
        for (var step = 0; step < 6; step++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(1200));
            switch (step)
            {
                case 0 or 2 or 4:
                    await adapter.KillHardAsync();
                    kills++;
                    await adapter.DisposeAsync();
                    adapter = AdapterProcess.Start(environment);
                    break;
                case 1:
                    Volatile.Write(ref outage, 1);
                    await Task.Delay(TimeSpan.FromSeconds(2));
                    Volatile.Write(ref outage, 0);
                    break;
                case 3 when database.Server.Local is { } local:
                    await local.RestartAsync();
                    restarted = true;
                    break;
            }
        }
        await Task.WhenAll(writers);

        var committed = await OutageWorkload.CommittedIdsAsync(db);
        var delivered = new Dictionary<long, int>();
        var eventIds = new HashSet<string>();
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        while (DateTime.UtcNow < deadline)
        {
            delivered.Clear();
            eventIds.Clear();
            foreach (var request in receiver.Requests.Where(r => r.Status is >= 200 and < 300))
            {
                using var payload = JsonDocument.Parse(request.Body);
                var id = payload.RootElement.GetProperty("data").GetProperty("id").GetInt64();
                delivered[id] = delivered.GetValueOrDefault(id) + 1;
                eventIds.Add(request.Headers["ce-id"]);
            }
            if (committed.All(delivered.ContainsKey))
            {
                break;
            }
            await Task.Delay(500);
        }
        await adapter.DisposeAsync();

        var accepted = delivered.Values.Sum();
        var missing = committed.Where(id => !delivered.ContainsKey(id)).ToList();
        output.WriteLine($"{mode}: committed {committed.Count} rows, {accepted} events accepted, {delivered.Count} distinct rows, " +
            $"{eventIds.Count} distinct event ids, {accepted - delivered.Count} duplicates, {missing.Count} missing; " +
            $"adapter killed {kills}x, PostgreSQL restarted: {restarted}, writer retries: {writerErrors.Count}");

        Assert.True(committed.Count >= Writers * RowsPerWriter * 9 / 10, $"only {committed.Count} rows committed");
        Assert.DoesNotContain(committed, id => !delivered.ContainsKey(id));
        Assert.Equal(committed.Count, delivered.Count);
        // A redelivered change keeps its id: distinct ids equal distinct changes.
        Assert.Equal(committed.Count, eventIds.Count);
        Assert.Equal(3, kills);
    }

    /// <summary>Inserts rows in small transactions; writer 0 holds each transaction open a while so later ones commit first.</summary>
    private static async Task WriteAsync(string connectionString, int writer, ConcurrentBag<string> errors)
    {
        var next = 0;
        var random = new Random(writer);
        while (next < RowsPerWriter)
        {
            var batch = Math.Min(RowsPerWriter - next, random.Next(1, 25));
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync();
                await using var transaction = await connection.BeginTransactionAsync();
                for (var i = 0; i < batch; i++)
                {
                    var id = (long)writer * 1_000_000 + next + i;
                    await using var insert = new NpgsqlCommand("INSERT INTO items VALUES (@id, @w, @b) ON CONFLICT (id) DO NOTHING", connection, transaction);
                    insert.Parameters.AddWithValue("id", id);
                    insert.Parameters.AddWithValue("w", writer);
                    insert.Parameters.AddWithValue("b", $"row {id} from writer {writer}");
                    await insert.ExecuteNonQueryAsync();
                }
                if (writer == 0 && random.Next(4) == 0)
                {
                    await Task.Delay(random.Next(200, 900));
                }
                await transaction.CommitAsync();
                next += batch;
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException or InvalidOperationException)
            {
                // The server restarted under us: retry the batch (ON CONFLICT makes a committed retry harmless).
                errors.Add(ex.Message);
                await Task.Delay(200);
            }
        }
    }
}
