using System.Text.Json.Nodes;
using PostgresSource.Core.Naming;
using PostgresSource.Kubernetes.Controller;
using PostgresSource.Kubernetes.Manifests;
using PostgresSource.TestSupport;

namespace PostgresSource.Kubernetes.Tests;

/// <summary>
/// The controller in-process against the fake API server, which serves list and watch with resource versions,
/// 410 Gone after compaction, finalizers, Leases and Events: what a user sees after kubectl apply, edit and delete.
/// </summary>
public sealed class ControllerContractTests : IAsyncLifetime
{
    private readonly ControllerHarness _harness = new();

    private FakeKubernetesApiServer Server => _harness.Server;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    private void AssertNoViolations() => Assert.True(Server.Violations.Count == 0, string.Join("\n", Server.Violations));

    private static bool IsSourceWrite(FakeKubernetesApiServer.RecordedRequest r) =>
        r.Method != "GET" && !r.Path.Contains("/leases", StringComparison.Ordinal);

    /// <summary>Applies the Broker and the resource, and waits for the controller to deploy the adapter.</summary>
    private async Task<JsonObject> AppliedAndDeployedAsync()
    {
        Server.Seed(ControllerHarness.Broker());
        Server.UserApply(ControllerHarness.Resource());
        await ControllerHarness.WaitFor(() => _harness.Deployment() is not null, "the adapter Deployment");
        return _harness.Deployment()!;
    }

    private async Task<JsonObject> ReadyAsync()
    {
        await AppliedAndDeployedAsync();
        _harness.AdapterRuns();
        await ControllerHarness.WaitFor(() => ControllerHarness.Condition(_harness.Find(), "Ready") == "True", "Ready True");
        return _harness.Find()!;
    }

    [Fact]
    public async Task AppliedResourceGetsFinalizerObjectsAndStatusAndTurnsReadyWhenTheAdapterReportsIn()
    {
        var controller = _harness.Start();
        var deployment = await AppliedAndDeployedAsync();

        await ControllerHarness.WaitFor(() => ControllerHarness.Condition(_harness.Find(), "SinkProvided") == "True", "SinkProvided True");
        var resource = _harness.Find()!;
        var uid = JsonTree.GetString(resource, "metadata", "uid")!;
        var name = SourceObjectNames.KubernetesName("orders", uid);
        Assert.Contains(PgSourceKube.Finalizer, (resource["metadata"]!["finalizers"] as JsonArray)!.Select(f => (string?)f));
        Assert.NotNull(Server.Find("", "serviceaccounts", "default", name));
        Assert.NotNull(Server.Find("rbac.authorization.k8s.io", "rolebindings", "default", name));
        Assert.Equal(ControllerHarness.BrokerUrl, ControllerHarness.Env(deployment, "K_SINK"));
        Assert.Equal(ControllerHarness.BrokerUrl, JsonTree.GetString(resource, "status", "sinkUri"));
        Assert.Equal(1, JsonTree.GetInt64(resource, "status", "observedGeneration"));
        // Not ready before the adapter runs: kubectl wait keeps waiting, and the reason says why.
        Assert.Equal("Unknown", ControllerHarness.Condition(resource, "Ready"));
        Assert.Equal("DeploymentProgressing", ControllerHarness.Condition(resource, "Ready", "reason"));
        Assert.Equal(uid, JsonTree.GetString((JsonObject)deployment["metadata"]!["ownerReferences"]![0]!, "uid"));

        _harness.AdapterRuns();
        await ControllerHarness.WaitFor(() => ControllerHarness.Condition(_harness.Find(), "Ready") == "True", "Ready True");
        resource = _harness.Find()!;
        Assert.Equal("True", ControllerHarness.Condition(resource, "Deployed"));
        Assert.Equal(true, (bool?)resource["status"]!["adapter"]!["connected"]);
        Assert.Equal("Durable", (string?)resource["status"]!["adapter"]!["mode"]);
        Assert.NotNull(resource["status"]!["ceAttributes"]);

        await _harness.EventRecorded("Ready");
        var reasons = _harness.Events().Select(e => (string?)e["reason"]).ToList();
        Assert.Contains("AdapterDeployed", reasons);
        Assert.Contains("Ready", reasons);
        Assert.All(_harness.Events(), e => Assert.Equal(uid, (string?)e["regarding"]!["uid"]));

        // The adapter loses its database: Ready turns False with the adapter's words, and a Warning says so.
        _harness.AdapterReport = _harness.AdapterReport with { Connected = false, LastDeliveryError = "connection refused" };
        await ControllerHarness.WaitFor(() => ControllerHarness.Condition(_harness.Find(), "Ready", "reason") == "AdapterNotConnected", "Ready False AdapterNotConnected");
        Assert.Contains("connection refused", ControllerHarness.Condition(_harness.Find(), "Ready", "message"));
        await ControllerHarness.WaitFor(() => _harness.Events().Any(e => (string?)e["reason"] == "AdapterNotConnected" && (string?)e["type"] == "Warning"), "a Warning Event");
        Assert.Equal(0, controller.Host.Metrics.ReconcileErrors);
        AssertNoViolations();
    }

    [Fact]
    public async Task OutsideTheClusterTheAdapterIsAskedThroughTheApiServerPodProxy()
    {
        _harness.Start(adjust: options => options with { AdapterRoute = AdapterRoute.ApiServerProxy });
        await ReadyAsync();

        var pod = SourceObjectNames.KubernetesName("orders", JsonTree.GetString(_harness.Find(), "metadata", "uid")!) + "-pod";
        Assert.Contains(Server.Requests, r => r.Method == "GET" && r.Path.StartsWith($"/api/v1/namespaces/default/pods/{pod}:", StringComparison.Ordinal) && r.Path.EndsWith("/proxy/state", StringComparison.Ordinal));
        Assert.Equal(true, (bool?)_harness.Find()!["status"]!["adapter"]!["connected"]);
        AssertNoViolations();
    }

    [Fact]
    public async Task SpecChangeRollsTheDeploymentAndMovesObservedGeneration()
    {
        _harness.Start();
        var before = await AppliedAndDeployedAsync();

        Server.UserApply(ControllerHarness.Resource("public.orders", "public.invoices"));

        await ControllerHarness.WaitFor(() => JsonTree.GetInt64(_harness.Find(), "status", "observedGeneration") == 2, "observedGeneration 2");
        // The status is written first (it says the Deployment is progressing), the Deployment right after.
        await ControllerHarness.WaitFor(() => _harness.Deployment()!["spec"]!["template"]!.ToJsonString().Contains("invoices", StringComparison.Ordinal), "the Deployment rolled");
        var after = _harness.Deployment()!;
        Assert.NotEqual(before["spec"]!["template"]!.ToJsonString(), after["spec"]!["template"]!.ToJsonString());
        Assert.Contains("invoices", after["spec"]!["template"]!.ToJsonString());
        await _harness.EventRecorded("AdapterUpdated");
        AssertNoViolations();
    }

    [Fact]
    public async Task BrokerAddressChangeIsFollowedByKSink()
    {
        _harness.Start();
        await AppliedAndDeployedAsync();
        const string moved = "http://broker-ingress.knative-eventing.svc.cluster.local/default/moved";

        Server.SetStatus("eventing.knative.dev", "brokers", "default", "default", new JsonObject { ["address"] = new JsonObject { ["url"] = moved } });

        await ControllerHarness.WaitFor(() => ControllerHarness.Env(_harness.Deployment(), "K_SINK") == moved, "K_SINK follows the Broker");
        await ControllerHarness.WaitFor(() => JsonTree.GetString(_harness.Find(), "status", "sinkUri") == moved, "status.sinkUri follows");
        AssertNoViolations();
    }

    [Fact]
    public async Task BrokerAddressChangeIsFollowedAtOnceNotAtTheNextResync()
    {
        // A resync far away: only the watch on the Broker can bring the change.
        var controller = _harness.Start(adjust: options => options with { ResyncInterval = TimeSpan.FromHours(1) });
        await AppliedAndDeployedAsync();
        await ControllerHarness.WaitFor(() => Server.OpenWatches >= 2, "the controller watches PostgresSources and Brokers");
        const string moved = "http://broker-ingress.knative-eventing.svc.cluster.local/default/moved-at-once";

        Server.SetStatus("eventing.knative.dev", "brokers", "default", "default", new JsonObject { ["address"] = new JsonObject { ["url"] = moved } });

        await ControllerHarness.WaitFor(() => ControllerHarness.Env(_harness.Deployment(), "K_SINK") == moved, "K_SINK follows the Broker without a resync", 10);
        Assert.Contains(Server.Requests, r => r.Path == "/apis/eventing.knative.dev/v1/brokers" && r.Query.GetValueOrDefault("watch") == "true");
        Assert.Equal(0, controller.Host.Metrics.ReconcileErrors);
        AssertNoViolations();
    }

    [Fact]
    public async Task ABrokersNewCaCertsAndAudienceAreFollowedByTheDeploymentAndTheStatus()
    {
        _harness.Start();
        await AppliedAndDeployedAsync();
        Assert.Null(ControllerHarness.Env(_harness.Deployment(), "K_CA_CERTS"));
        const string pem = "-----BEGIN CERTIFICATE-----\nQlJPS0VS\n-----END CERTIFICATE-----\n";

        Server.SetStatus("eventing.knative.dev", "brokers", "default", "default", new JsonObject
        {
            ["address"] = new JsonObject { ["url"] = ControllerHarness.BrokerUrl, ["CACerts"] = pem, ["audience"] = "broker-audience" },
        });

        await ControllerHarness.WaitFor(() => ControllerHarness.Env(_harness.Deployment(), "K_AUDIENCE") == "broker-audience", "K_AUDIENCE follows the Broker");
        Assert.Equal(pem, ControllerHarness.Env(_harness.Deployment(), "K_CA_CERTS"));
        Assert.Equal(SourceObjects.SinkTokenFile, ControllerHarness.Env(_harness.Deployment(), "PGSOURCE_SINK_TOKEN_FILE"));
        await ControllerHarness.WaitFor(() => JsonTree.GetString(_harness.Find(), "status", "sinkAudience") == "broker-audience", "status.sinkAudience follows");
        Assert.Equal(pem, JsonTree.GetString(_harness.Find(), "status", "sinkCACerts"));
        AssertNoViolations();
    }

    [Fact]
    public async Task DeleteStopsTheAdapterRunsTheUninstallJobThenReleasesTheFinalizer()
    {
        _harness.Start();
        var deployment = await AppliedAndDeployedAsync();
        var deploymentName = JsonTree.GetString(deployment, "metadata", "name")!;
        var jobName = SourceObjects.UninstallJobName(deploymentName);

        Assert.False(Server.UserDelete(ControllerHarness.Group, ControllerHarness.Plural, "default", "orders")); // held by the finalizer

        await ControllerHarness.WaitFor(() => _harness.Find() is null, "the resource is gone");
        var writes = Server.Writes.Select(w => $"{w.Method} {w.Path}").ToList();
        var deleted = writes.FindIndex(w => w == $"DELETE /apis/apps/v1/namespaces/default/deployments/{deploymentName}");
        var job = writes.FindIndex(w => w == $"PATCH /apis/batch/v1/namespaces/default/jobs/{jobName}");
        var released = writes.FindLastIndex(w => w.StartsWith("PATCH /apis/sources.vaikas.dev/v1alpha1/namespaces/default/postgressources/orders", StringComparison.Ordinal)
            && !w.EndsWith("/status", StringComparison.Ordinal));
        Assert.True(deleted >= 0 && job > deleted && released > job, string.Join("\n", writes));
        var jobBody = Server.Writes.First(w => w.Path.EndsWith("/jobs/" + jobName, StringComparison.Ordinal)).Json!;
        Assert.Equal("uninstall", (string?)jobBody["spec"]!["template"]!["spec"]!["containers"]![0]!["args"]![0]);
        Assert.Contains(_harness.Events(), e => (string?)e["reason"] == "Uninstalled");
        AssertNoViolations();
    }

    [Fact]
    public async Task UnreachableDatabaseKeepsTheFinalizerSaysWhyAndRecovers()
    {
        var controller = _harness.Start();
        await AppliedAndDeployedAsync();
        Server.Jobs = FakeKubernetesApiServer.JobOutcome.Fail;

        Server.UserDelete(ControllerHarness.Group, ControllerHarness.Plural, "default", "orders");

        await ControllerHarness.WaitFor(() => ControllerHarness.Condition(_harness.Find(), "Ready", "reason") == "UninstallFailed", "Ready False UninstallFailed");
        var resource = _harness.Find()!;
        Assert.NotNull(resource["metadata"]!["deletionTimestamp"]);
        Assert.Contains(PgSourceKube.Finalizer, (resource["metadata"]!["finalizers"] as JsonArray)!.Select(f => (string?)f));
        var message = ControllerHarness.Condition(resource, "Ready", "message")!;
        Assert.Contains("kubectl logs job/", message);
        Assert.Contains("kubectl patch postgressource orders -n default --type=merge", message);
        await _harness.EventRecorded("UninstallFailed", "Warning");

        // It stays while the database is away (retried with backoff), and goes once the uninstall can run.
        await Task.Delay(1000);
        Assert.NotNull(_harness.Find());
        var attempts = Server.Writes.Count(w => w.Method == "PATCH" && w.Path.Contains("/jobs/", StringComparison.Ordinal));
        Assert.True(attempts >= 2, $"the Job is tried again; {attempts} attempt(s)");
        Server.Jobs = FakeKubernetesApiServer.JobOutcome.Succeed;
        await ControllerHarness.WaitFor(() => _harness.Find() is null, "the resource is gone once the uninstall succeeds");
        Assert.Equal(0, controller.Host.Metrics.ReconcileErrors);
        AssertNoViolations();
    }

    [Fact]
    public async Task TwoControllersElectOneLeaderAndOnlyItWrites()
    {
        var first = _harness.Start(FakeKubernetesApiServer.Token, "controller-a");
        await ControllerHarness.WaitFor(() => first.Host.Elector.IsLeader, "the first controller leads");
        var second = _harness.Start(FakeKubernetesApiServer.Token + "-2", "controller-b");
        await ReadyAsync();
        Server.UserApply(ControllerHarness.Resource("public.orders", "public.invoices"));
        await ControllerHarness.WaitFor(() => JsonTree.GetInt64(_harness.Find(), "status", "observedGeneration") == 2, "observedGeneration 2");

        Assert.False(second.Host.Elector.IsLeader);
        var writers = Server.Requests.Where(IsSourceWrite).Select(r => r.Authorization).Distinct().ToList();
        Assert.Equal(["Bearer " + FakeKubernetesApiServer.Token], writers);

        // The leader stops (SIGTERM): it hands the Lease back and the other one carries on at once.
        await first.StopAsync();
        await ControllerHarness.WaitFor(() => second.Host.Elector.IsLeader, "the second controller takes over", 5);
        Server.ClearRequests();
        Server.UserApply(ControllerHarness.Resource("public.orders"));
        await ControllerHarness.WaitFor(() => JsonTree.GetInt64(_harness.Find(), "status", "observedGeneration") == 3, "observedGeneration 3");
        Assert.Equal(["Bearer " + FakeKubernetesApiServer.Token + "-2"], Server.Requests.Where(IsSourceWrite).Select(r => r.Authorization).Distinct().ToList());
        AssertNoViolations();
    }

    [Fact]
    public async Task RestartAndResyncWriteNothingForAnUnchangedResource()
    {
        var first = _harness.Start();
        await ReadyAsync();
        await first.StopAsync();
        Server.ClearRequests();

        var second = _harness.Start(identity: "controller-restarted");
        await ControllerHarness.WaitFor(() => second.Host.Metrics.Reconciles >= 3, "the restarted controller reconciled and resynced");

        Assert.Empty(Server.Requests.Where(IsSourceWrite).Select(r => r.ToString()));
        AssertNoViolations();
    }

    [Fact]
    public async Task ExpiredWatchIsListedAgainAndLaterChangesAreStillSeen()
    {
        var controller = _harness.Start();
        await AppliedAndDeployedAsync();
        Assert.Equal(1, controller.Host.Lists);

        // Nothing changes between the compaction and the next watch, so the informer's version is too old.
        Server.Compact();
        await ControllerHarness.WaitFor(() => controller.Host.Lists >= 2, "a second list after 410 Gone");

        Server.UserApply(ControllerHarness.Resource("public.orders", "public.invoices"));
        await ControllerHarness.WaitFor(() => JsonTree.GetInt64(_harness.Find(), "status", "observedGeneration") == 2, "the change after the relist is reconciled");
        AssertNoViolations();
    }

    [Fact]
    public async Task UnreadableSpecIsReportedAndNothingIsDeployed()
    {
        _harness.Start();
        Server.Seed(ControllerHarness.Broker());
        var resource = ControllerHarness.Resource();
        resource["spec"]!["tables"] = new JsonArray("no such\"table");
        Server.UserApply(resource);

        await ControllerHarness.WaitFor(() => ControllerHarness.Condition(_harness.Find(), "Ready", "reason") == "InvalidSpec", "Ready False InvalidSpec");
        Assert.Null(_harness.Deployment());
        await _harness.EventRecorded("InvalidSpec", "Warning");
    }
}
