using System.Diagnostics;
using System.Text.Json;
using PostgresSource.TestReceivers;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Adapter.Tests;

/// <summary>One active adapter per source: a second replica waits as a standby and takes over when the active one is killed.</summary>
[Collection(DatabaseCollection.Name)]
public sealed class StandbyTests(DatabaseFixture database, ITestOutputHelper output)
{
    [Theory]
    [InlineData("Durable")]
    [InlineData("Logical")]
    public async Task StandbyTakesOverWithinSecondsAndNothingIsDeliveredTwiceWhileBothRun(string mode)
    {
        var db = await database.CreateDatabaseAsync("s");
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY, qty int)");
        await using var receiver = await CloudEventReceiver.StartAsync();
        Dictionary<string, string> Environment() => new()
        {
            ["K_SINK"] = receiver.Url.ToString(),
            ["NAME"] = "standby-" + mode.ToLowerInvariant(),
            ["NAMESPACE"] = "test",
            ["PGSOURCE_TABLES"] = "orders",
            ["PGSOURCE_MODE"] = mode,
            ["PGSOURCE_CONNECTION"] = db,
            ["PGSOURCE_HTTP_PORT"] = AdapterProcess.FreePort().ToString(),
        };
        static bool Says(JsonElement line, string text) =>
            line.TryGetProperty("msg", out var message) && message.GetString()!.Contains(text, StringComparison.Ordinal);

        await using var first = AdapterProcess.Start(Environment());
        await first.WaitForLogAsync(l => Says(l, "listening"), TimeSpan.FromSeconds(60));
        await using var second = AdapterProcess.Start(Environment());
        await second.WaitForLogAsync(l => Says(l, "stands by"), TimeSpan.FromSeconds(60));

        await TestSql.ExecuteAsync(db, "INSERT INTO orders VALUES (1, 10), (2, 20)");
        Assert.True(await receiver.WaitUntilAsync(r => r.Count(x => x.Status == 200) >= 2, TimeSpan.FromSeconds(30)));
        await Task.Delay(1500);
        Assert.Equal(2, receiver.Requests.Count);
        Assert.DoesNotContain(second.Logs, l => Says(l, "listening"));

        var clock = Stopwatch.StartNew();
        await first.KillHardAsync();
        await second.WaitForLogAsync(l => Says(l, "now the active one"), TimeSpan.FromSeconds(30));
        await second.WaitForLogAsync(l => Says(l, "listening"), TimeSpan.FromSeconds(30));
        var takeover = clock.Elapsed;

        await TestSql.ExecuteAsync(db, "INSERT INTO orders VALUES (3, 30)");
        Assert.True(await receiver.WaitUntilAsync(r => r.Any(x => x.Status == 200 && x.Body.Length > 0 && JsonDocument.Parse(x.Body).RootElement.GetProperty("data").GetProperty("id").GetInt32() == 3),
            TimeSpan.FromSeconds(30)));
        output.WriteLine($"{mode}: standby took over {takeover.TotalSeconds:F2} s after the active adapter was killed with SIGKILL.");
        Assert.True(takeover < TimeSpan.FromSeconds(10), $"takeover took {takeover}");
    }
}
