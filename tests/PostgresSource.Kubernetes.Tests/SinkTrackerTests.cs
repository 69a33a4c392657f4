using PostgresSource.Core.Sources;
using PostgresSource.Kubernetes.Controller;

namespace PostgresSource.Kubernetes.Tests;

/// <summary>Which sources a change of an addressed object concerns, as sources move between sinks.</summary>
public sealed class SinkTrackerTests
{
    private static readonly ResourceType Brokers = ResourceType.ForReference("eventing.knative.dev/v1", "Broker");

    private static SourceDefinition To(SinkReference sink, string name = "orders") => SyncHarness.Source(name, sink: sink);

    [Fact]
    public void ATypeIsNewOnlyOnceAndAChangeFindsEverySourceAddressingTheObject()
    {
        var tracker = new SinkTracker();
        Assert.Equal([Brokers], tracker.Track("default/orders", To(SyncHarness.BrokerRef())));
        Assert.Empty(tracker.Track("default/invoices", To(SyncHarness.BrokerRef(), "invoices")));

        Assert.Equal(["default/invoices", "default/orders"], tracker.SourcesOf(Brokers, "default/default").Order(StringComparer.Ordinal));
        Assert.Empty(tracker.SourcesOf(Brokers, "default/other"));
        Assert.Empty(tracker.SourcesOf(Brokers, "elsewhere/default"));
    }

    [Fact]
    public void MovingToAnotherSinkOrAUriOrBeingForgottenStopsTheOldObjectFromQueueingTheSource()
    {
        var tracker = new SinkTracker();
        tracker.Track("default/orders", To(SyncHarness.BrokerRef()));

        tracker.Track("default/orders", To(SyncHarness.BrokerRef("other")));
        Assert.Empty(tracker.SourcesOf(Brokers, "default/default"));
        Assert.Equal(["default/orders"], tracker.SourcesOf(Brokers, "default/other"));

        Assert.Empty(tracker.Track("default/orders", To(SinkReference.FromUri(new Uri(SyncHarness.Uri)))));
        Assert.Empty(tracker.SourcesOf(Brokers, "default/other"));

        tracker.Track("default/orders", To(SyncHarness.BrokerRef()));
        tracker.Forget("default/orders");
        Assert.Empty(tracker.SourcesOf(Brokers, "default/default"));
    }

    [Fact]
    public void CoreServicesAreNotTrackedTheirAddressFollowsFromTheName()
    {
        var tracker = new SinkTracker();
        var service = new SinkReference { RefApiVersion = "v1", RefKind = "Service", RefName = "receiver" };
        Assert.Empty(tracker.Track("default/orders", To(service)));
    }
}
