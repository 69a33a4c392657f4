using System.Text.Json.Nodes;
using PostgresSource.Core.Naming;
using PostgresSource.Kubernetes.Controller;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes.Tests;

/// <summary>
/// One resource, two ways into a cluster: Sync-PgSourceCluster's engine and the controller. Both use the same
/// reconciler, so the per-source objects they leave must be the same, field for field (server bookkeeping aside).
/// </summary>
public sealed class SyncAndControllerAgreeTests
{
    private const string Uid = "5f0c3a52-2d0b-4b8e-9a59-2b7f3c1d9e41";

    [Fact]
    public async Task SyncAndTheControllerProduceIdenticalPerSourceObjects()
    {
        var source = SyncHarness.Source(sink: SyncHarness.BrokerRef(), tables: ["public.orders", "public.invoices"]);

        using var sync = new SyncHarness();
        ControllerHarness.InstallCrd(sync.Server);
        sync.Server.Seed(ControllerHarness.Broker());
        sync.Server.Seed(WithUid(SourceObjects.CustomResource(source)));
        var observer = sync.Sync([source]);
        Assert.Empty(observer.Failures);

        await using var controlled = new ControllerHarness();
        controlled.Server.Seed(ControllerHarness.Broker());
        controlled.Server.UserApply(WithUid(SourceObjects.CustomResource(source)));
        // Both with their defaults: the image a user gets without choosing one.
        controlled.Start(adjust: options => options with { AdapterImage = new ControllerOptions().AdapterImage });
        await ControllerHarness.WaitFor(() => controlled.Deployment() is not null, "the controller's Deployment");
        await ControllerHarness.WaitFor(() => JsonTree.GetInt64(controlled.Find(), "status", "observedGeneration") == 1, "the controller's first status");

        var name = SourceObjectNames.KubernetesName("orders", Uid);
        foreach (var (group, plural) in new[] { ("", "serviceaccounts"), ("rbac.authorization.k8s.io", "rolebindings"), ("apps", "deployments") })
        {
            var bySync = sync.Server.Find(group, plural, "default", name);
            var byController = controlled.Server.Find(group, plural, "default", name);
            Assert.True(bySync is not null, $"Sync left no {plural}/{name}");
            Assert.True(byController is not null, $"The controller left no {plural}/{name}");
            Assert.Equal(Comparable(bySync!).ToJsonString(), Comparable(byController!).ToJsonString());
        }
        // The status both write is the same story: the sink resolved, the adapter deployed, not yet running.
        var syncStatus = sync.Server.Find(ControllerHarness.Group, ControllerHarness.Plural, "default", "orders");
        foreach (var type in new[] { "SinkProvided", "Deployed", "Ready" })
        {
            Assert.Equal(ControllerHarness.Condition(syncStatus, type), ControllerHarness.Condition(controlled.Find(), type));
            Assert.Equal(ControllerHarness.Condition(syncStatus, type, "reason"), ControllerHarness.Condition(controlled.Find(), type, "reason"));
        }
        Assert.Equal(JsonTree.GetString(syncStatus, "status", "sinkUri"), JsonTree.GetString(controlled.Find(), "status", "sinkUri"));
    }

    private static JsonObject WithUid(JsonObject resource)
    {
        resource["metadata"]!["uid"] = Uid;
        return resource;
    }

    /// <summary>The object without what the API server keeps for itself (versions, times, field managers, status).</summary>
    private static JsonObject Comparable(JsonObject item)
    {
        var copy = (JsonObject)item.DeepClone();
        copy.Remove("status");
        var metadata = (JsonObject)copy["metadata"]!;
        foreach (var field in new[] { "uid", "resourceVersion", "creationTimestamp", "generation", "managedFields" })
        {
            metadata.Remove(field);
        }
        return copy;
    }
}
