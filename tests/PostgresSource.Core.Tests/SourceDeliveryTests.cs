using PostgresSource.Core.Delivery;
using PostgresSource.Core.Listening;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Tests;

public sealed class SourceDeliveryTests
{
    private static SourceDefinition Source(SourceDelivery? delivery) => new()
    {
        Name = "orders",
        Tables = [TableName.Parse("orders")],
        Delivery = delivery,
    };

    [Theory]
    [InlineData("PT10M", 600_000, "PT10M")]
    [InlineData("PT600S", 600_000, "PT10M")]
    [InlineData("PT0.5S", 500, "PT0.5S")]
    [InlineData("PT1H30M", 5_400_000, "PT1H30M")]
    [InlineData("P1D", 86_400_000, "P1D")]
    [InlineData("P1DT2H", 93_600_000, "P1DT2H")]
    [InlineData("PT0S", 0, "PT0S")]
    public void DurationsAreIso8601(string text, long milliseconds, string written)
    {
        Assert.True(SourceDelivery.TryParseDuration(text, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
        Assert.Equal(written, SourceDelivery.FormatDuration(value));
    }

    [Theory]
    [InlineData("")]
    [InlineData("P")]
    [InlineData("PT")]
    [InlineData("10m")]
    [InlineData("500ms")]
    [InlineData("600")]
    [InlineData("pt10m")]
    [InlineData("-PT1S")]
    [InlineData("PT10X")]
    public void OtherTextIsNotADuration(string text) => Assert.False(SourceDelivery.TryParseDuration(text, out _));

    [Fact]
    public void EveryChoiceHasItsLowercaseWordAndReadsBack()
    {
        foreach (var action in Enum.GetValues<UndeliverableAction>())
        {
            var text = SourceDelivery.ToText(action);
            Assert.Equal(text.ToLowerInvariant(), text);
            Assert.True(SourceDelivery.TryParseUndeliverable(text, out var back));
            Assert.Equal(action, back);
        }
        foreach (var order in Enum.GetValues<DeliveryOrder>())
        {
            var text = SourceDelivery.ToText(order);
            Assert.Equal(text.ToLowerInvariant(), text);
            Assert.True(SourceDelivery.TryParseOrdering(text, out var back));
            Assert.Equal(order, back);
        }
        Assert.Equal(["stop", "skip"], Enum.GetValues<UndeliverableAction>().Select(SourceDelivery.ToText));
        Assert.Equal(["commit", "key", "unordered"], Enum.GetValues<DeliveryOrder>().Select(SourceDelivery.ToText));
        Assert.False(SourceDelivery.TryParseOrdering("Commit", out _));
        Assert.False(SourceDelivery.TryParseUndeliverable("Stop", out _));
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData(0, 1)]
    [InlineData(3, 4)]
    public void RetryCountsRetriesAsKnativeDoes(int? retry, int? attempts) =>
        Assert.Equal(attempts, new SourceDelivery { Retry = retry }.MaxAttempts);

    [Fact]
    public void UnsetIsEmptyAndValid()
    {
        Assert.True(new SourceDelivery().IsEmpty);
        Assert.False(new SourceDelivery { Retry = 0 }.IsEmpty);
        Source(null).Validate();
        Source(new SourceDelivery()).Validate();
        Assert.Null(Source(null).Delivery);
    }

    [Theory]
    [InlineData(null, 1)]
    [InlineData(null, 1000)]
    [InlineData(DeliveryOrder.Commit, 1)]
    [InlineData(DeliveryOrder.Key, 1000)]
    [InlineData(DeliveryOrder.Unordered, 2)]
    public void InFlightWithinItsRangeIsValid(DeliveryOrder? order, int inFlight) =>
        Source(new SourceDelivery { Ordering = order, MaxInFlight = inFlight }).Validate();

    [Theory]
    [InlineData(null, 0, "0 is not a whole number from 1 to 1000.")]
    [InlineData(DeliveryOrder.Unordered, 1001, "1001 is not a whole number from 1 to 1000.")]
    [InlineData(DeliveryOrder.Commit, 2, "commit order allows one delivery in flight, not 2: choose ordering key or unordered for more.")]
    public void InFlightOutsideItsRangeNamesTheField(DeliveryOrder? order, int inFlight, string message)
    {
        var error = Assert.Throws<SourceValidationException>(() => Source(new SourceDelivery { Ordering = order, MaxInFlight = inFlight }).Validate());
        Assert.Equal("delivery.maxInFlight", error.Field);
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void RetryLimitsAreChecked()
    {
        Source(new SourceDelivery { Retry = 0, RetryTime = TimeSpan.Zero }).Validate();
        Assert.Equal("delivery.retry", Assert.Throws<SourceValidationException>(() => Source(new SourceDelivery { Retry = -1 }).Validate()).Field);
        Assert.Equal("delivery.retry", Assert.Throws<SourceValidationException>(() => Source(new SourceDelivery { Retry = int.MaxValue }).Validate()).Field);
        Assert.Equal("delivery.retryTime", Assert.Throws<SourceValidationException>(() => Source(new SourceDelivery { RetryTime = TimeSpan.FromSeconds(-1) }).Validate()).Field);
    }

    [Fact]
    public void DeadLetterSinkIsAnHttpUriOrAReference()
    {
        Source(new SourceDelivery { DeadLetterSink = SinkReference.FromUri(new Uri("https://dead.example/in")) }).Validate();
        Source(new SourceDelivery
        {
            DeadLetterSink = new SinkReference { RefApiVersion = "eventing.knative.dev/v1", RefKind = "Broker", RefName = "dead", Uri = new Uri("/in", UriKind.Relative) },
        }).Validate();

        SourceValidationException Invalid(SinkReference sink) =>
            Assert.Throws<SourceValidationException>(() => Source(new SourceDelivery { DeadLetterSink = sink }).Validate());
        Assert.Equal("delivery.deadLetterSink", Invalid(new SinkReference()).Field);
        Assert.Equal("delivery.deadLetterSink", Invalid(SinkReference.FromUri(new Uri("mailto:ops@example.com"))).Field);
        Assert.Equal("delivery.deadLetterSink.ref", Invalid(new SinkReference { RefKind = "Broker", RefName = "dead" }).Field);
        Assert.Equal("delivery.deadLetterSink.uri",
            Invalid(new SinkReference { RefApiVersion = "v1", RefKind = "Service", RefName = "dead", Uri = new Uri("ftp://x/") }).Field);
    }

    [Fact]
    public void UnknownEnumValuesAreRejected()
    {
        Assert.Equal("delivery.ordering", Assert.Throws<SourceValidationException>(() => Source(new SourceDelivery { Ordering = (DeliveryOrder)9 }).Validate()).Field);
        Assert.Equal("delivery.onUndeliverable", Assert.Throws<SourceValidationException>(() => Source(new SourceDelivery { OnUndeliverable = (UndeliverableAction)9 }).Validate()).Field);
    }

    [Fact]
    public void DescribesWhatIsSet()
    {
        var delivery = new SourceDelivery { OnUndeliverable = UndeliverableAction.Skip, Retry = 2, RetryTime = TimeSpan.FromMinutes(5), DeadLetterSink = SinkReference.FromUri(new Uri("http://dead/")) };
        Assert.Equal("onUndeliverable=skip, retry=2, retryTime=PT5M, deadLetterSink=http://dead/", delivery.ToString());
        Assert.Equal(string.Empty, new SourceDelivery().ToString());
    }
}
