using System.Text;
using System.Text.Json;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.SystemTextJson;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Events;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Tests.Delivery;

public sealed class EventFactoryTests
{
    private const string Payload = """{"table" : "orders", "schema" : "sales", "action" : "UPDATE", "data" : {"id":7,"item":"café \"x\"","qty":3}}""";

    private static SourceDefinition Source(IReadOnlyDictionary<string, string>? overrides = null) => new SourceDefinition
    {
        Name = "mypostgres",
        Namespace = "shop",
        Tables = [TableName.Parse("sales.orders")],
        CeOverrideExtensions = overrides ?? new Dictionary<string, string>(),
    }.Validate();

    private static CapturedChange Change(string? id = null, DateTimeOffset? commit = null, bool truncated = false, string? txid = null, string? lsn = null) => new()
    {
        Schema = "sales",
        Table = "orders",
        Operation = ChangeOperation.Update,
        PayloadJson = Payload,
        Id = id,
        CommitTime = commit,
        Truncated = truncated,
        TransactionId = txid,
        Lsn = lsn,
    };

    [Fact]
    public void MapsAChangeToACloudEvent10WithTheSeedPayloadVerbatim()
    {
        var received = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(2));
        var cloudEvent = new ChangeEventFactory(Source()).Create(Change(), received);

        Assert.Equal(CloudEventsSpecVersion.V1_0, cloudEvent.SpecVersion);
        Assert.True(Guid.TryParse(cloudEvent.Id, out _));
        Assert.Equal("shop/mypostgres", cloudEvent.Source!.OriginalString);
        Assert.Equal("dev.vaikas.postgres", cloudEvent.Type);
        Assert.Equal("sales.orders", cloudEvent.Subject);
        Assert.Equal(received, cloudEvent.Time);
        Assert.Equal(TimeSpan.Zero, cloudEvent.Time!.Value.Offset);
        Assert.Equal("application/json", cloudEvent.DataContentType);
        Assert.Equal("orders", cloudEvent["pgtable"]);
        Assert.Equal("sales", cloudEvent["pgschema"]);
        Assert.Equal("UPDATE", cloudEvent["pgoperation"]);
        Assert.Null(cloudEvent["pgtxid"]);
        Assert.Null(cloudEvent["pglsn"]);
        Assert.Null(cloudEvent["pgtruncated"]);

        // The data is the payload byte for byte, in both content modes.
        var formatter = PayloadJsonFormatter.Instance;
        Assert.Equal(Payload, Encoding.UTF8.GetString(formatter.EncodeBinaryModeEventData(cloudEvent).Span));
        var structured = Encoding.UTF8.GetString(formatter.EncodeStructuredModeMessage(cloudEvent, out var contentType).Span);
        Assert.Equal("application/cloudevents+json", contentType.MediaType);
        Assert.Contains("\"data\":" + Payload, structured, StringComparison.Ordinal);
        var decoded = new JsonEventFormatter().DecodeStructuredModeMessage(Encoding.UTF8.GetBytes(structured), contentType, null);
        Assert.Equal(cloudEvent.Id, decoded.Id);
        Assert.Equal("café \"x\"", ((JsonElement)decoded.Data!).GetProperty("data").GetProperty("item").GetString());
    }

    [Fact]
    public void UsesTheModesIdCommitTimeTransactionAndLsnWhenKnown()
    {
        var commit = new DateTimeOffset(2025, 12, 31, 23, 59, 59, TimeSpan.Zero);
        var cloudEvent = new ChangeEventFactory(Source()).Create(Change("0/16B3748:1", commit, truncated: true, txid: "742", lsn: "0/16B3748"), DateTimeOffset.UtcNow);
        Assert.Equal("0/16B3748:1", cloudEvent.Id);
        Assert.Equal(commit, cloudEvent.Time);
        Assert.Equal("742", cloudEvent["pgtxid"]);
        Assert.Equal("0/16B3748", cloudEvent["pglsn"]);
        Assert.Equal(true, cloudEvent["pgtruncated"]);
    }

    [Fact]
    public void EveryChangeWithoutAnIdGetsAUniqueOne()
    {
        var factory = new ChangeEventFactory(Source());
        var ids = Enumerable.Range(0, 5000).Select(_ => factory.Create(Change(), DateTimeOffset.UtcNow).Id).ToHashSet();
        Assert.Equal(5000, ids.Count);
    }

    [Fact]
    public void OverridesAreAppliedLastAndWinLikeKnative()
    {
        var fromSpec = new Dictionary<string, string> { ["team"] = "billing", ["pgoperation"] = "spec" };
        var fromEnvironment = CeOverrides.Parse("""{"extensions": {"team": "payments", "region": "eu1", "pgtruncated": "no"}}""");
        var cloudEvent = new ChangeEventFactory(Source(fromSpec), "override/source", fromEnvironment).Create(Change(truncated: true), DateTimeOffset.UtcNow);
        Assert.Equal("override/source", cloudEvent.Source!.OriginalString);
        Assert.Equal("payments", cloudEvent["team"]);
        Assert.Equal("eu1", cloudEvent["region"]);
        Assert.Equal("spec", cloudEvent["pgoperation"]);
        Assert.Equal("no", cloudEvent["pgtruncated"]);
        Assert.Equal("orders", cloudEvent["pgtable"]);
    }

    [Theory]
    [InlineData("""{"extensions": {"Team": "x"}}""")]
    [InlineData("""{"extensions": {"my-ext": "x"}}""")]
    [InlineData("""{"extensions": {"abcdefghijklmnopqrstu": "x"}}""")]
    [InlineData("""{"extensions": {"source": "x"}}""")]
    [InlineData("""{"extensions": {"ok": {"nested": 1}}}""")]
    [InlineData("""{"extensions": ["a"]}""")]
    [InlineData("""not json""")]
    public void InvalidOverridesAreRejectedWithTheReason(string json)
    {
        var error = Assert.Throws<FormatException>(() => CeOverrides.Parse(json));
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    [Fact]
    public void EmptyOrExtensionlessOverridesMeanNone()
    {
        Assert.Empty(CeOverrides.Parse(null));
        Assert.Empty(CeOverrides.Parse("  "));
        Assert.Empty(CeOverrides.Parse("{}"));
        Assert.Equal("1", CeOverrides.Parse("""{"extensions": {"n": 1}}""")["n"]);
    }

    [Fact]
    public void EventRecordCarriesThePlainValues()
    {
        var cloudEvent = new ChangeEventFactory(Source()).Create(Change(txid: "9", truncated: true), DateTimeOffset.UtcNow);
        var record = EventRecord.From(cloudEvent);
        Assert.Equal(cloudEvent.Id, record.Id);
        Assert.Equal("shop/mypostgres", record.Source);
        Assert.Equal("sales.orders", record.Subject);
        Assert.Equal("orders", record.Table);
        Assert.Equal("sales", record.Schema);
        Assert.Equal("UPDATE", record.Operation);
        Assert.Equal("9", record.TransactionId);
        Assert.True(record.Truncated);
        Assert.Equal(Payload, record.DataJson);
    }
}
