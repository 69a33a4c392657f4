using System.Text.Json;
using PostgresSource.TestReceivers;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Adapter.Tests;

/// <summary>PGSOURCE_SNAPSHOT: existing rows are sent as read events first, and the snapshot's progress is logged, throttled.</summary>
[Collection(DatabaseCollection.Name)]
public sealed class SnapshotProgressLogTests(DatabaseFixture database, ITestOutputHelper output)
{
    private const int Rows = 4000;

    [Fact]
    public async Task SnapshotProgressIsLoggedWithRisingCountsAtMostOncePerSecondAndAFinalLine()
    {
        var db = await database.CreateDatabaseAsync("p");
        await TestSql.ExecuteAsync(db, $"CREATE TABLE orders (id int PRIMARY KEY, qty int); INSERT INTO orders SELECT g, g FROM generate_series(1, {Rows}) g; ANALYZE orders;");
        // A sink that takes a moment per event, so the snapshot lasts a few seconds and intermediate lines appear.
        await using var receiver = await CloudEventReceiver.StartAsync(_ =>
        {
            Thread.Sleep(1);
            return 200;
        });
        var environment = new Dictionary<string, string>
        {
            ["K_SINK"] = receiver.Url.ToString(),
            ["NAME"] = "snapshot-log",
            ["NAMESPACE"] = "test",
            ["PGSOURCE_TABLES"] = "orders",
            ["PGSOURCE_MODE"] = "Durable",
            ["PGSOURCE_SNAPSHOT"] = "true",
            ["PGSOURCE_CONNECTION"] = db,
            ["PGSOURCE_HTTP_PORT"] = AdapterProcess.FreePort().ToString(),
        };
        await using var adapter = AdapterProcess.Start(environment);

        var final = await adapter.WaitForLogAsync(l => IsProgress(l) && l.GetProperty("done").GetBoolean(), TimeSpan.FromSeconds(120));
        Assert.True(await receiver.WaitUntilAsync(r => r.Count >= Rows, TimeSpan.FromSeconds(60)));
        adapter.SendSigterm();
        Assert.Equal(0, await adapter.WaitForExitAsync(TimeSpan.FromSeconds(30)));

        var lines = adapter.Logs.Where(IsProgress).ToList();
        foreach (var line in lines)
        {
            output.WriteLine(line.GetRawText());
        }
        Assert.True(adapter.Logs.First().GetProperty("snapshot").GetBoolean());
        Assert.All(lines, l =>
        {
            Assert.Equal("info", l.GetProperty("level").GetString());
            Assert.Equal("public", l.GetProperty("schema").GetString());
            Assert.Equal("orders", l.GetProperty("table").GetString());
            Assert.Equal(1, l.GetProperty("tableNumber").GetInt32());
            Assert.Equal(1, l.GetProperty("tableCount").GetInt32());
            Assert.Equal(Rows, l.GetProperty("estimatedRows").GetInt64());
        });
        var counts = lines.Select(l => l.GetProperty("rowsRead").GetInt64()).ToList();
        Assert.True(counts.Count >= 3, "expected a first, an intermediate and a final line, got " + string.Join(",", counts));
        Assert.Equal(counts.Order(), counts);
        Assert.Equal(0, counts[0]);

        // Throttled: the lines before the final one are at least a second apart.
        var times = lines.SkipLast(1).Select(l => DateTimeOffset.Parse(l.GetProperty("time").GetString()!)).ToList();
        Assert.All(times.Zip(times.Skip(1)), pair => Assert.True(pair.Second - pair.First >= TimeSpan.FromMilliseconds(900), $"{pair.First:O} then {pair.Second:O}"));

        Assert.Single(lines, l => l.GetProperty("done").GetBoolean());
        Assert.Equal(final.GetRawText(), lines[^1].GetRawText());
        Assert.Equal(Rows, final.GetProperty("rowsRead").GetInt64());
        Assert.Equal(100.0, final.GetProperty("percent").GetDouble());

        Assert.Equal(Rows, receiver.Accepted.Count(e => (string?)e["pgoperation"] == "READ"));
    }

    private static bool IsProgress(JsonElement line) => line.TryGetProperty("msg", out var msg) && msg.GetString() == "snapshot progress";
}
