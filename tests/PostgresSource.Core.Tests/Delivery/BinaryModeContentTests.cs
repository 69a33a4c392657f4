using System.Text;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.Http;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Events;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Tests.Delivery;

/// <summary>The sink's own binary-mode content must be the message the CloudEvents SDK builds, header for header.</summary>
public sealed class BinaryModeContentTests
{
    private static CloudEvent Event(string table, IReadOnlyDictionary<string, string>? overrides = null, bool truncated = false)
    {
        var source = new SourceDefinition
        {
            Name = "mypostgres",
            Namespace = "shop",
            Tables = [TableName.Parse("public." + table)],
            CeOverrideExtensions = overrides ?? new Dictionary<string, string>(),
        }.Validate();
        return new ChangeEventFactory(source).Create(new CapturedChange
        {
            Schema = "public",
            Table = table,
            Operation = ChangeOperation.Insert,
            PayloadJson = """{"table" : "t", "data" : {"item":"café \"x\" 100%"}}""",
            Id = "src-42",
            TransactionId = "7781",
            Lsn = "0/16B3748",
            CommitTime = new DateTimeOffset(2026, 11, 24, 3, 4, 5, 678, TimeSpan.Zero),
            Truncated = truncated,
        }, DateTimeOffset.UtcNow);
    }

    public static TheoryData<string, bool> Cases => new()
    {
        { "orders", false },
        { "Bestellung Über 100% \"neu\"", true }, // space, quote, percent and non-ASCII: all percent-encoded
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task HeadersAndBodyEqualTheSdksBinaryMode(string table, bool truncated)
    {
        var cloudEvent = Event(table, new Dictionary<string, string> { ["team"] = "blue green", ["region"] = "eu-1" }, truncated);

        using var ours = BinaryModeContent.Create(cloudEvent, PayloadJsonFormatter.Instance);
        using var sdks = cloudEvent.ToHttpContent(ContentMode.Binary, PayloadJsonFormatter.Instance);

        Assert.Equal(Headers(sdks), Headers(ours));
        Assert.Equal(await sdks.ReadAsByteArrayAsync(), await ours.ReadAsByteArrayAsync());
        Assert.Equal(sdks.Headers.ContentLength, ours.Headers.ContentLength);
        Assert.Contains(Headers(ours), h => h.StartsWith("ce-subject: public.", StringComparison.Ordinal));
        Assert.Equal(truncated, Headers(ours).Contains("ce-pgtruncated: true"));
    }

    [Fact]
    public void EveryHeaderValueIsPrintableAsciiSoStoringItUnparsedIsSafe()
    {
        // Control characters (CR, LF) never get into an event: the SDK refuses them in string attributes.
        var cloudEvent = Event("Über orders", new Dictionary<string, string> { ["note"] = "spaces, ünïcode ✓ and \"quotes\"" });
        Assert.Throws<ArgumentException>(() =>
            cloudEvent[CloudEventAttribute.CreateExtension("injected", CloudEventAttributeType.String)] = "one\r\nX-Injected: yes");

        using var content = BinaryModeContent.Create(cloudEvent, PayloadJsonFormatter.Instance);

        foreach (var (name, values) in content.Headers.NonValidated)
        {
            foreach (var value in values)
            {
                Assert.All(value, c => Assert.InRange(c, '!', '~'));
            }
        }
        Assert.Equal("spaces, ünïcode ✓ and \"quotes\"", Uri.UnescapeDataString(Assert.Single(content.Headers.GetValues("ce-note"))));
    }

    [Fact]
    public async Task TheSdkReadsTheMessageBackToTheSameEvent()
    {
        var cloudEvent = Event("Über orders");
        using var content = BinaryModeContent.Create(cloudEvent, PayloadJsonFormatter.Instance);
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://sink/") { Content = content };

        var back = await request.ToCloudEventAsync(new CloudNative.CloudEvents.SystemTextJson.JsonEventFormatter());

        foreach (var (attribute, value) in cloudEvent.GetPopulatedAttributes())
        {
            Assert.Equal(attribute.Format(value), back.GetAttribute(attribute.Name) is { } a ? a.Format(back[a]!) : null);
        }
    }

    private static string[] Headers(HttpContent content) =>
        content.Headers.NonValidated
            .Select(h => $"{h.Key.ToLowerInvariant()}: {string.Join(",", h.Value)}")
            .Order(StringComparer.Ordinal)
            .ToArray();
}
