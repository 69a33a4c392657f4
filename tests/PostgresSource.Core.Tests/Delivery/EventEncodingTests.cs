using System.Text;
using System.Text.Json;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.Http;
using CloudNative.CloudEvents.SystemTextJson;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Events;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Tests.Delivery;

/// <summary>Events from any identifier; configured values checked when the factory is made; the fallback event.</summary>
public sealed class EventEncodingTests
{
    private const string Payload = """{"table" : "we\tird", "schema" : "s\nx", "action" : "INSERT", "data" : {"id":1}}""";

    private static SourceDefinition Source(IReadOnlyDictionary<string, string>? overrides = null, string eventType = SourceDefinition.DefaultEventType) => new()
    {
        Name = "shop",
        Namespace = "default",
        Tables = [TableName.Parse("orders")],
        EventType = eventType,
        CeOverrideExtensions = overrides ?? new Dictionary<string, string>(),
    };

    private static CapturedChange Change(string schema = "public", string table = "we\tird", string? id = "src-42", string payload = Payload) => new()
    {
        Schema = schema,
        Table = table,
        Operation = ChangeOperation.Insert,
        PayloadJson = payload,
        Id = id,
        TransactionId = "901",
        Lsn = "0/16B3748",
    };

    [Fact]
    public void TheSdkRefusesATabInAStringAttribute()
    {
        // Why the encoding exists: without it the change could never become an event.
        var cloudEvent = new CloudEvent();
        Assert.Throws<ArgumentException>(() => cloudEvent.Subject = "public.we\tird");
    }

    [Fact]
    public async Task AnEventForATableNamedWithATabIsValidAndEncodesToHttpBinaryMode()
    {
        var cloudEvent = new ChangeEventFactory(Source().Validate()).Create(Change(), DateTimeOffset.UtcNow);

        Assert.Equal("public.we%09ird", cloudEvent.Subject);
        Assert.Equal("we%09ird", cloudEvent["pgtable"]);
        Assert.Equal("public", cloudEvent["pgschema"]);
        Assert.Equal("src-42", cloudEvent.Id);
        cloudEvent.Validate();
        Assert.True(cloudEvent.IsValid);

        // The SDK's own binary mode and this product's (BinaryModeContent) carry the same headers.
        using var sdk = cloudEvent.ToHttpContent(ContentMode.Binary, PayloadJsonFormatter.Instance);
        using var ours = BinaryModeContent.Create(cloudEvent, PayloadJsonFormatter.Instance);
        Assert.Equal(Header(sdk, "ce-subject"), Header(ours, "ce-subject"));
        // The HTTP binding percent-encodes the header value again ('%' is %25); a receiver decodes it back to the attribute.
        Assert.Equal("public.we%2509ird", Header(ours, "ce-subject"));
        Assert.Equal("we%2509ird", Header(ours, "ce-pgtable"));
        Assert.All(ours.Headers.SelectMany(h => h.Value), v => Assert.DoesNotContain(v, c => c < 0x20 || c > 0x7E));

        using var request = new HttpRequestMessage(HttpMethod.Post, "http://receiver/") { Content = ours };
        var decoded = await request.ToCloudEventAsync(new JsonEventFormatter());
        Assert.Equal("public.we%09ird", decoded.Subject);
        Assert.Equal("we%09ird", decoded["pgtable"]);
        Assert.Equal("public.we\tird", AttributeText.Decode(decoded.Subject!));
        Assert.Equal(Payload, Encoding.UTF8.GetString(PayloadJsonFormatter.Instance.EncodeBinaryModeEventData(cloudEvent).Span));
    }

    [Fact]
    public void EveryStringAttributeFromTheChangeIsEncodedAndNonAsciiIsKept()
    {
        var change = new CapturedChange
        {
            Schema = "Ä\u0085schema",
            Table = "crème, \"brûlée\"\n100%",
            Operation = ChangeOperation.Update,
            PayloadJson = Payload,
            Id = "id\u0001",
            TransactionId = "7\u007F",
            Lsn = "0/1\t",
        };
        var cloudEvent = new ChangeEventFactory(Source().Validate()).Create(change, DateTimeOffset.UtcNow);
        Assert.Equal("Ä%C2%85schema.crème, \"brûlée\"%0A100%25", cloudEvent.Subject);
        Assert.Equal("crème, \"brûlée\"%0A100%25", cloudEvent["pgtable"]);
        Assert.Equal("Ä%C2%85schema", cloudEvent["pgschema"]);
        Assert.Equal("id%01", cloudEvent.Id);
        Assert.Equal("7%7F", cloudEvent["pgtxid"]);
        Assert.Equal("0/1%09", cloudEvent["pglsn"]);
        Assert.Equal(change.Table, AttributeText.Decode((string)cloudEvent["pgtable"]!));

        // The same in structured mode, and the record the cmdlets show.
        var structured = PayloadJsonFormatter.Instance.EncodeStructuredModeMessage(cloudEvent, out var contentType);
        var back = new JsonEventFormatter().DecodeStructuredModeMessage(structured, contentType, null);
        Assert.Equal(cloudEvent.Subject, back.Subject);
        Assert.Equal("crème, \"brûlée\"%0A100%25", EventRecord.From(cloudEvent).Table);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("dev.vaikas\tpostgres")]
    [InlineData("dev.vaikas.postgres\n")]
    [InlineData("dev.\u0085x")]
    public void ABadEventTypeIsAConfigurationErrorWhenTheFactoryIsMadeAndWhenTheSourceIsValidated(string eventType)
    {
        var factory = Assert.Throws<FormatException>(() => new ChangeEventFactory(Source(eventType: eventType)));
        Assert.StartsWith("The event type is not usable: ", factory.Message);
        var source = Assert.Throws<SourceValidationException>(() => Source(eventType: eventType).Validate());
        Assert.Equal("eventType", source.Field);
        Assert.Equal("eventType", Assert.Throws<SourceValidationException>(() => Source(eventType: eventType).ValidateEventAttributes()).Field);
        if (eventType.Trim().Length > 0)
        {
            Assert.Contains("a control character", source.Message);
        }
    }

    [Fact]
    public void OverrideValuesWithControlCharactersAreRefusedAtStartNamingTheExtension()
    {
        var parse = Assert.Throws<FormatException>(() => CeOverrides.Parse("""{"extensions": {"team": "bill\u0007ing"}}"""));
        Assert.Equal("the value of extension 'team' is not allowed in a CloudEvent: 'bill%07ing' contains U+0007, a control character, at position 5", parse.Message);

        var spec = new Dictionary<string, string> { ["region"] = "eu\n1" };
        var validation = Assert.Throws<SourceValidationException>(() => Source(spec).Validate());
        Assert.Equal("ceOverrides.extensions", validation.Field);
        Assert.Contains("'region'", validation.Message);
        // A source that was never validated still fails when its listener's factory is made, not per event.
        Assert.Contains("'region'", Assert.Throws<FormatException>(() => new ChangeEventFactory(Source(spec))).Message);
        Assert.Contains("'zone'", Assert.Throws<FormatException>(() =>
            new ChangeEventFactory(Source().Validate(), overrides: new Dictionary<string, string> { ["zone"] = "a\tb" })).Message);

        // '%', spaces and non-ASCII are fine and kept verbatim (configured values are not encoded).
        var fine = CeOverrides.Parse("""{"extensions": {"team": "100% café, \"billing\""}}""");
        var cloudEvent = new ChangeEventFactory(Source().Validate(), overrides: fine).Create(Change(), DateTimeOffset.UtcNow);
        Assert.Equal("100% café, \"billing\"", cloudEvent["team"]);
    }

    [Fact]
    public void AFallbackEventCarriesTheChangeTheReasonAndTheOverrides()
    {
        var factory = new ChangeEventFactory(Source(new Dictionary<string, string> { ["team"] = "billing", ["pgerror"] = "hidden?" }).Validate());
        var received = new DateTimeOffset(2026, 3, 4, 5, 6, 7, TimeSpan.Zero);
        var letter = factory.CreateFallback(Change(), "cannot make a CloudEvent: bad\nthing 100%", received);

        Assert.True(letter.IsValid);
        Assert.Equal("src-42", letter.Id);
        Assert.Equal("default/shop", letter.Source!.OriginalString);
        Assert.Equal(SourceDefinition.DefaultEventType, letter.Type);
        Assert.Equal("public.we%09ird", letter.Subject);
        Assert.Equal(received, letter.Time);
        Assert.Equal("application/json", letter.DataContentType);
        Assert.Equal(Payload, ((PayloadJson)letter.Data!).Json);
        Assert.Equal("we%09ird", letter["pgtable"]);
        Assert.Equal("INSERT", letter["pgoperation"]);
        Assert.Equal("901", letter["pgtxid"]);
        Assert.Equal("billing", letter["team"]);
        Assert.Equal("cannot make a CloudEvent: bad%0Athing 100%25", letter["pgerror"]);
        Assert.True(EventAttributes.IsValidExtensionName(EventAttributes.Error));

        // Both content modes can carry it.
        using var binary = BinaryModeContent.Create(letter, PayloadJsonFormatter.Instance);
        Assert.Equal("cannot%20make%20a%20CloudEvent:%20bad%250Athing%20100%2525", Header(binary, "ce-pgerror"));
        PayloadJsonFormatter.Instance.EncodeStructuredModeMessage(letter, out _);
    }

    [Fact]
    public void AFallbackEventNeedsNothingFromTheChange()
    {
        var factory = new ChangeEventFactory(Source().Validate());
        var letter = factory.CreateFallback(Change(id: null, payload: "not json\u0001"), new string('x', 5000), DateTimeOffset.UtcNow);
        Assert.True(Guid.TryParse(letter.Id, out _));
        // A payload that is not JSON arrives as one JSON string, so structured mode can still carry it.
        var data = ((PayloadJson)letter.Data!).Json;
        Assert.Equal("not json\u0001", JsonDocument.Parse(data).RootElement.GetString());
        PayloadJsonFormatter.Instance.EncodeStructuredModeMessage(letter, out _);
        Assert.Equal(ChangeEventFactory.MaxErrorLength + 3, ((string)letter["pgerror"]!).Length);

        var empty = factory.CreateFallback(Change(id: ""), "", DateTimeOffset.UtcNow);
        Assert.True(Guid.TryParse(empty.Id, out _));
        Assert.False(string.IsNullOrEmpty((string?)empty["pgerror"]));
    }

    private static string Header(HttpContent content, string name) =>
        content.Headers.TryGetValues(name, out var values) ? values.Single() : throw new KeyNotFoundException(name);
}
