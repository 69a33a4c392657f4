using System.Text.Json;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Events;
using PostgresSource.Core.Listening;
using PostgresSource.Core.Sources;
using PostgresSource.TestReceivers;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Core.Tests.Listener;

/// <summary>
/// A table whose name holds a tab, a comma, a space, a non-ASCII letter and '%': its changes are delivered,
/// with subject and pgtable encoded as documented (AttributeText), through real PostgreSQL and real receivers.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class IdentifierEncodingEndToEndTests(DatabaseFixture database, ITestOutputHelper output)
{
    private const string Name = "we\tird, crème 100%";
    private const string EncodedName = "we%09ird, crème 100%25";
    private const string Table = "CREATE TABLE \"" + Name + "\" (id int PRIMARY KEY, item text)";
    private const string Changes = "INSERT INTO \"" + Name + "\" VALUES (1, 'a'), (2, 'b'); UPDATE \"" + Name + "\" SET item = 'c' WHERE id = 1; DELETE FROM \"" + Name + "\" WHERE id = 2;";

    private static RetryPolicy Fast() => new() { MaxAttempts = 3, InitialDelay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromMilliseconds(100) };

    [Theory]
    [InlineData(CaptureMode.Durable)]
    [InlineData(CaptureMode.Notify)]
    public async Task ChangesOnATableNamedWithATabACommaAndNonAsciiAreDeliveredWithTheSubjectEncoded(CaptureMode mode)
    {
        await using var receiver = await CloudEventReceiver.StartAsync();
        await using var harness = await ListenerHarness.StartAsync(database, _ => new HttpEventSink(receiver.Url), Fast(),
            tableSql: Table, table: "\"" + Name + "\"", mode: mode);
        await TestSql.ExecuteAsync(harness.ConnectionString, Changes);

        Assert.True(await ListenerHarness.EventuallyAsync(() => harness.Statistics.Finished == 4, TimeSpan.FromSeconds(30)),
            $"{mode}: finished {harness.Statistics.Finished}; last error {harness.Statistics.LastError}");
        Assert.Equal(4, harness.Statistics.Delivered);
        Assert.Empty(harness.ReportsOf(ListenerReportKind.DeliveryFailed));

        var requests = receiver.Requests;
        Assert.Equal(4, requests.Count);
        Assert.Equal(["INSERT", "INSERT", "UPDATE", "DELETE"], requests.Select(r => (string)r.Event!["pgoperation"]!));
        foreach (var request in requests)
        {
            Assert.Null(request.DecodeError);
            var received = request.Event!;
            Assert.Equal("public." + EncodedName, received.Subject);
            Assert.Equal(EncodedName, received["pgtable"]);
            Assert.Equal("public", received["pgschema"]);
            Assert.Equal(Name, AttributeText.Decode((string)received["pgtable"]!));
            // On the wire the HTTP binding percent-encodes the attribute once more.
            Assert.Equal("public.we%2509ird,%20cr%C3%A8me%20100%2525", request.Headers["ce-subject"]);
            // The data is the payload as PostgreSQL made it: the real name, JSON-escaped.
            Assert.Equal(Name, ((JsonElement)received.Data!).GetProperty("table").GetString());
        }
        output.WriteLine($"{mode}: subject {requests[0].Event!.Subject}");
    }

    [NodeFact]
    public async Task TheNpmCloudEventsReceiverAcceptsThemInBothContentModes()
    {
        await using var node = await NodeCloudEventsReceiver.StartAsync(RepositoryRoot());
        foreach (var contentMode in new[] { EventContentMode.Binary, EventContentMode.Structured })
        {
            await using var harness = await ListenerHarness.StartAsync(database,
                _ => new HttpEventSink(node.Url, new HttpSinkOptions { ContentMode = contentMode }), Fast(),
                tableSql: Table, table: "\"" + Name + "\"", mode: CaptureMode.Durable);
            await TestSql.ExecuteAsync(harness.ConnectionString, Changes);
            Assert.True(await ListenerHarness.EventuallyAsync(() => harness.Statistics.Finished == 4, TimeSpan.FromSeconds(30)),
                $"{contentMode}: finished {harness.Statistics.Finished}; last error {harness.Statistics.LastError}");
            Assert.Equal(4, harness.Statistics.Delivered);
        }

        var (accepted, rejected) = await node.EventsAsync();
        Assert.Empty(rejected);
        Assert.Equal(8, accepted.Count);
        foreach (var e in accepted)
        {
            // The JS SDK hands binary-mode header values on as they came (still percent-encoded by the HTTP binding).
            var binary = e.GetProperty("mode").GetString() == "binary";
            string Attribute(JsonElement value) => binary ? Uri.UnescapeDataString(value.GetString()!) : value.GetString()!;
            Assert.Equal("public." + EncodedName, Attribute(e.GetProperty("subject")));
            Assert.Equal(EncodedName, Attribute(e.GetProperty("extensions").GetProperty("pgtable")));
            Assert.Equal(Name, e.GetProperty("data").GetProperty("table").GetString());
        }
        Assert.Equal(4, accepted.Count(e => e.GetProperty("mode").GetString() == "structured"));
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
