using System.Text.Json;
using PostgresSource.Core.Delivery;
using PostgresSource.TestReceivers;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Core.Tests.Listener;

/// <summary>Skipped, with the reason, only when Node.js is not installed.</summary>
public sealed class NodeFactAttribute : FactAttribute
{
    public NodeFactAttribute()
    {
        if (NodeCloudEventsReceiver.Unavailable() is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>The independent JavaScript CloudEvents SDK, validating strictly, accepts every event in both content modes.</summary>
[Collection(DatabaseCollection.Name)]
public sealed class NodeReceiverTests(DatabaseFixture database, ITestOutputHelper output)
{
    private const string Table = """
        CREATE TABLE "Order Lines" (
            id int PRIMARY KEY,
            item text,
            price numeric(12, 2),
            tags text[],
            meta jsonb,
            placed timestamptz DEFAULT '2026-01-02 03:04:05.678+00',
            note text)
        """;

    [NodeFact]
    public async Task TheNpmCloudEventsReceiverAcceptsEveryEventInBothContentModes()
    {
        await using var node = await NodeCloudEventsReceiver.StartAsync(RepositoryRoot());
        var total = 0;
        foreach (var mode in new[] { EventContentMode.Binary, EventContentMode.Structured })
        {
            await using var harness = await ListenerHarness.StartAsync(database,
                _ => new HttpEventSink(node.Url, new HttpSinkOptions { ContentMode = mode }),
                tableSql: Table, table: "\"Order Lines\"",
                overrides: new Dictionary<string, string> { ["team"] = "billing", ["region"] = "eu1" });
            await TestSql.ExecuteAsync(harness.ConnectionString, """
                INSERT INTO "Order Lines" (id, item, price, tags, meta, note) VALUES
                  (1, 'plain', 9.99, '{a,b}', '{"k": [1, 2, {"x": null}]}', NULL),
                  (2, E'quotes " and \\ backslash\nnewline', 0, '{}', 'null', 'ünïcödé ✓ 日本'),
                  (3, repeat('big', 3000), 1, NULL, NULL, 'too big for NOTIFY: truncated');
                UPDATE "Order Lines" SET price = price + 1, tags = array_append(tags, 'c') WHERE id = 1;
                DELETE FROM "Order Lines" WHERE id = 2;
                """);
            total += 5;
            Assert.True(await ListenerHarness.EventuallyAsync(() => harness.Statistics.Finished == 5, TimeSpan.FromSeconds(20)),
                $"{mode}: finished {harness.Statistics.Finished}; last error {harness.Statistics.LastError}");
            Assert.Equal(5, harness.Statistics.Delivered);
        }

        var (accepted, rejected) = await node.EventsAsync();
        Assert.Empty(rejected);
        Assert.Equal(total, accepted.Count);
        Assert.Equal(5, accepted.Count(e => e.GetProperty("mode").GetString() == "binary"));
        Assert.Equal(5, accepted.Count(e => e.GetProperty("mode").GetString() == "structured"));
        foreach (var e in accepted)
        {
            // The HTTP binding percent-encodes header values (a space is %20); the JS SDK hands them on undecoded.
            static string Decoded(JsonElement value) => Uri.UnescapeDataString(value.GetString()!);
            Assert.Equal("dev.vaikas.postgres", e.GetProperty("type").GetString());
            Assert.Equal("default/shop", e.GetProperty("source").GetString());
            Assert.Equal("public.Order Lines", Decoded(e.GetProperty("subject")));
            var extensions = e.GetProperty("extensions");
            Assert.Equal("Order Lines", Decoded(extensions.GetProperty("pgtable")));
            Assert.Equal("public", extensions.GetProperty("pgschema").GetString());
            Assert.Equal("billing", extensions.GetProperty("team").GetString());
            Assert.Equal("eu1", extensions.GetProperty("region").GetString());
            Assert.Equal(e.GetProperty("data").GetProperty("action").GetString(), extensions.GetProperty("pgoperation").GetString());
        }
        Assert.Equal(2, accepted.Count(e => e.GetProperty("extensions").TryGetProperty("pgtruncated", out _)));
        var unicode = accepted.First(e => e.GetProperty("data").GetProperty("action").GetString() == "DELETE");
        Assert.Equal("ünïcödé ✓ 日本", unicode.GetProperty("data").GetProperty("data").GetProperty("note").GetString());
        Assert.Equal("quotes \" and \\ backslash\nnewline", unicode.GetProperty("data").GetProperty("data").GetProperty("item").GetString());
        output.WriteLine($"node accepted {accepted.Count} events, rejected {rejected.Count}");
    }

    [NodeFact]
    public async Task TheNpmReceiverReallyRejectsInvalidEvents()
    {
        await using var node = await NodeCloudEventsReceiver.StartAsync(RepositoryRoot());
        using var client = new HttpClient();
        var noSource = new StringContent("{\"specversion\":\"1.0\",\"id\":\"1\",\"type\":\"t\",\"data\":{}}");
        noSource.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/cloudevents+json");
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await client.PostAsync(node.Url, noSource)).StatusCode);
        var badExtension = new StringContent("{\"specversion\":\"1.0\",\"id\":\"1\",\"type\":\"t\",\"source\":\"s\",\"time\":\"2026-01-01T00:00:00Z\",\"datacontenttype\":\"application/json\",\"Bad_Name\":\"x\",\"data\":{}}");
        badExtension.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/cloudevents+json");
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await client.PostAsync(node.Url, badExtension)).StatusCode);
        var (accepted, rejected) = await node.EventsAsync();
        Assert.Empty(accepted);
        Assert.Equal(2, rejected.Count);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "PostgresSource.sln")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("Cannot find the repository root.");
    }
}
