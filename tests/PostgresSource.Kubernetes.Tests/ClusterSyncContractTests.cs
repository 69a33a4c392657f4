using System.Net;
using System.Text.Json.Nodes;
using PostgresSource.Core.Diagnostics;
using PostgresSource.Kubernetes;
using PostgresSource.Kubernetes.Manifests;
using PostgresSource.Core.Naming;
using PostgresSource.Core.Sources;
using PostgresSource.TestSupport;

namespace PostgresSource.Kubernetes.Tests;

/// <summary>
/// Cluster sync through KubernetesClient against the in-process fake API server, which checks method, path,
/// content type, field manager and body of every request.
/// </summary>
public sealed class ClusterSyncContractTests : IDisposable
{
    private readonly SyncHarness _harness = new();

    private FakeKubernetesApiServer Server => _harness.Server;

    public void Dispose() => _harness.Dispose();

    private void AssertNoViolations() => Assert.True(Server.Violations.Count == 0, string.Join("\n", Server.Violations));

    private static string[] Lines(IEnumerable<FakeKubernetesApiServer.RecordedRequest> requests) => requests.Select(r => $"{r.Method} {r.Path}").ToArray();

    [Fact]
    public void FirstSyncCreatesEverythingInOrderWithServerSideApply()
    {
        var observer = _harness.Sync([SyncHarness.Source()]);

        AssertNoViolations();
        Assert.Empty(observer.Failures);
        var cr = Server.Find("sources.vaikas.dev", "postgressources", "default", "orders")!;
        var uid = (string)cr["metadata"]!["uid"]!;
        var name = SourceObjectNames.KubernetesName("orders", uid);
        Assert.Equal(
        [
            "PATCH /apis/apiextensions.k8s.io/v1/customresourcedefinitions/postgressources.sources.vaikas.dev",
            "PATCH /apis/rbac.authorization.k8s.io/v1/clusterroles/postgressource-adapter",
            "PATCH /apis/sources.vaikas.dev/v1alpha1/namespaces/default/postgressources/orders",
            "PATCH /apis/sources.vaikas.dev/v1alpha1/namespaces/default/postgressources/orders/status",
            $"PATCH /api/v1/namespaces/default/serviceaccounts/{name}",
            $"PATCH /apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/{name}",
            $"PATCH /apis/apps/v1/namespaces/default/deployments/{name}",
        ], Lines(Server.Writes));
        Assert.All(Server.Writes, w =>
        {
            Assert.StartsWith("application/apply-patch+yaml", w.ContentType);
            Assert.Equal("postgressource", w.Query["fieldManager"]);
            Assert.Equal(w.IsStatus ? "true" : "false", w.Query["force"]);
        });
        Assert.Equal(
        [
            "CustomResourceDefinition postgressources.sources.vaikas.dev Created",
            "ClusterRole postgressource-adapter Created",
            "PostgresSource orders Created",
            "PostgresSource/status orders Created",
            $"ServiceAccount {name} Created",
            $"RoleBinding {name} Created",
            $"Deployment {name} Created",
        ], observer.Summary);

        // Per-source objects are owned by the PostgresSource, so deleting it deletes them.
        foreach (var (group, plural) in new[] { ("", "serviceaccounts"), ("rbac.authorization.k8s.io", "rolebindings"), ("apps", "deployments") })
        {
            var owner = Server.Find(group, plural, "default", name)!["metadata"]!["ownerReferences"]![0]!;
            Assert.Equal("sources.vaikas.dev/v1alpha1", (string?)owner["apiVersion"]);
            Assert.Equal("PostgresSource", (string?)owner["kind"]);
            Assert.Equal("orders", (string?)owner["name"]);
            Assert.Equal(uid, (string?)owner["uid"]);
            Assert.True((bool)owner["controller"]!);
            Assert.True((bool)owner["blockOwnerDeletion"]!);
        }

        var status = cr["status"]!;
        Assert.Equal(Uri(), (string?)status["sinkUri"]);
        Assert.Equal(1, (int)status["observedGeneration"]!);
        Assert.Equal("True", Condition(cr, "SinkProvided"));
        Assert.Equal("Unknown", Condition(cr, "Deployed"));
        Assert.Equal("Unknown", Condition(cr, "Ready"));
    }

    private static string Uri() => SyncHarness.Uri;

    private static string? Condition(JsonObject resource, string type) =>
        (string?)(resource["status"]!["conditions"] as JsonArray)!.First(c => (string?)c!["type"] == type)!["status"];

    [Fact]
    public void DeploymentFollowsTheAdapterContract()
    {
        var source = SyncHarness.Source(tables: ["public.orders", "sales.\"Big Orders\"", "items"]) with
        {
            Mode = CaptureMode.Durable,
            EventType = "com.example.row",
            CeOverrideExtensions = new Dictionary<string, string> { ["team"] = "shop" },
        };
        _harness.Sync([source], new SyncOptions { Image = "registry.example/adapter:9" });

        var uid = (string)Server.Find("sources.vaikas.dev", "postgressources", "default", "orders")!["metadata"]!["uid"]!;
        var deployment = Server.Find("apps", "deployments", "default", SourceObjectNames.KubernetesName("orders", uid))!;
        var pod = deployment["spec"]!["template"]!;
        var container = pod["spec"]!["containers"]![0]!;
        Assert.Equal("registry.example/adapter:9", (string?)container["image"]);
        Assert.Null(container["args"]);
        var env = (container["env"] as JsonArray)!.ToDictionary(e => (string)e!["name"]!, e => e!);
        Assert.Equal(
            ["K_SINK", "K_CE_OVERRIDES", "NOTIFICATION_CHANNEL", "EVENT_SOURCE", "NAMESPACE", "NAME", "PGSOURCE_UID", "PGSOURCE_TABLES", "PGSOURCE_MODE", "PGSOURCE_EVENT_TYPE", "PGSOURCE_CONNECTION", "PGSOURCE_HTTP_PORT"],
            env.Keys);
        Assert.Equal(Uri(), (string?)env["K_SINK"]["value"]);
        Assert.Equal("{\"extensions\":{\"team\":\"shop\"}}", (string?)env["K_CE_OVERRIDES"]["value"]);
        Assert.Equal(SourceObjectNames.DatabaseName("orders", uid), (string?)env["NOTIFICATION_CHANNEL"]["value"]);
        Assert.Equal("default/orders", (string?)env["EVENT_SOURCE"]["value"]);
        Assert.Equal("default", (string?)env["NAMESPACE"]["value"]);
        Assert.Equal("orders", (string?)env["NAME"]["value"]);
        Assert.Equal(uid, (string?)env["PGSOURCE_UID"]["value"]);
        Assert.Equal("public.orders,sales.Big Orders,items", (string?)env["PGSOURCE_TABLES"]["value"]);
        Assert.Equal("Durable", (string?)env["PGSOURCE_MODE"]["value"]);
        Assert.Equal("com.example.row", (string?)env["PGSOURCE_EVENT_TYPE"]["value"]);
        Assert.Null(env["PGSOURCE_CONNECTION"]["value"]);
        Assert.Equal("sql-secret", (string?)env["PGSOURCE_CONNECTION"]["valueFrom"]!["secretKeyRef"]!["name"]);
        Assert.Equal("connectionstr", (string?)env["PGSOURCE_CONNECTION"]["valueFrom"]!["secretKeyRef"]!["key"]);
        Assert.Equal("8080", (string?)env["PGSOURCE_HTTP_PORT"]["value"]);

        Assert.Equal("/healthz", (string?)container["livenessProbe"]!["httpGet"]!["path"]);
        Assert.Equal(8080, (int)container["livenessProbe"]!["httpGet"]!["port"]!);
        Assert.Equal("/readyz", (string?)container["readinessProbe"]!["httpGet"]!["path"]);
        Assert.Equal("true", (string?)pod["metadata"]!["annotations"]!["prometheus.io/scrape"]);
        Assert.Equal("/metrics", (string?)pod["metadata"]!["annotations"]!["prometheus.io/path"]);
        Assert.NotNull(container["resources"]!["requests"]!["cpu"]);
        Assert.NotNull(container["resources"]!["requests"]!["memory"]);
        Assert.True((bool)pod["spec"]!["securityContext"]!["runAsNonRoot"]!);
        Assert.Equal("RuntimeDefault", (string?)pod["spec"]!["securityContext"]!["seccompProfile"]!["type"]);
        Assert.True((bool)container["securityContext"]!["readOnlyRootFilesystem"]!);
        Assert.False((bool)container["securityContext"]!["allowPrivilegeEscalation"]!);
        Assert.Equal("ALL", (string?)container["securityContext"]!["capabilities"]!["drop"]![0]);
        Assert.Equal(SourceObjectNames.KubernetesName("orders", uid), (string?)pod["spec"]!["serviceAccountName"]);

        var resource = Server.Find("sources.vaikas.dev", "postgressources", "default", "orders")!;
        Assert.Equal("Durable", (string?)resource["spec"]!["mode"]);
        Assert.Equal("sales.Big Orders", (string?)resource["spec"]!["tables"]![1]!["name"]);
    }

    [Fact]
    public void SecondSyncSendsNoWriteAndReportsNoChange()
    {
        var source = SyncHarness.Source();
        _harness.Sync([source]);
        Server.ClearRequests();

        var second = _harness.Sync([source]);

        Assert.Empty(second.Changes.Where(c => c.Action != ChangeAction.Unchanged).Select(c => c.Kind + ": " + string.Join(",", c.Changes)));
        Assert.Empty(Server.Writes);
        AssertNoViolations();
        Assert.Empty(second.Asked);
        Assert.Equal(7, second.Changes.Count);
        Assert.All(second.Changes, c => Assert.Equal(ChangeAction.Unchanged, c.Action));
    }

    [Fact]
    public void WhatIfReadsButSendsNoWrite()
    {
        var whatIf = _harness.Sync([SyncHarness.Source()], answer: Approval.WhatIf);

        Assert.Empty(Server.Writes);
        Assert.All(Server.Requests, r => Assert.Equal("GET", r.Method));
        Assert.Equal(
        [
            "CustomResourceDefinition postgressources.sources.vaikas.dev WouldCreate",
            "ClusterRole postgressource-adapter WouldCreate",
            "PostgresSource orders WouldCreate",
            "PostgresSource/status orders WouldCreate",
            "ServiceAccount postgressource-orders-<uid> WouldCreate",
            "RoleBinding postgressource-orders-<uid> WouldCreate",
            "Deployment postgressource-orders-<uid> WouldCreate",
        ], whatIf.Summary);
        Assert.Equal(7, whatIf.Asked.Count);

        // Once it exists, -WhatIf names what would change, field by field, still without a write.
        _harness.Sync([SyncHarness.Source()]);
        Server.ClearRequests();
        var changed = _harness.Sync([SyncHarness.Source(tables: ["public.orders"])], answer: Approval.WhatIf);
        Assert.Empty(Server.Writes);
        var resource = Assert.Single(changed.Changes, c => c.Kind == "PostgresSource" && c.Subresource is null);
        Assert.Equal(ChangeAction.WouldConfigure, resource.Action);
        Assert.Contains("spec.tables", resource.Changes);
        var deployment = Assert.Single(changed.Changes, c => c.Kind == "Deployment");
        Assert.Equal(ChangeAction.WouldConfigure, deployment.Action);
        Assert.Contains(deployment.Changes, c => c.StartsWith("spec.template.spec.containers[0].env", StringComparison.Ordinal));
        Assert.Equal(ChangeAction.Unchanged, Assert.Single(changed.Changes, c => c.Kind == "ServiceAccount").Action);
    }

    [Fact]
    public void DeclinedConfirmationWritesNothingForTheSource()
    {
        var declined = _harness.Sync([SyncHarness.Source()], answer: Approval.Declined);

        Assert.Empty(Server.Writes);
        Assert.Equal(
        [
            "CustomResourceDefinition postgressources.sources.vaikas.dev Skipped",
            "ClusterRole postgressource-adapter Skipped",
            "PostgresSource orders Skipped",
        ], declined.Summary);
    }

    [Fact]
    public void ChangedAndRemovedFieldsAreConfigured()
    {
        _harness.Sync([SyncHarness.Source() with { EventType = "com.example.row" }]);
        Server.ClearRequests();

        var second = _harness.Sync([SyncHarness.Source()]);

        AssertNoViolations();
        var resource = Assert.Single(second.Changes, c => c.Kind == "PostgresSource" && c.Subresource is null);
        Assert.Equal(ChangeAction.Configured, resource.Action);
        Assert.Contains("spec.eventType (removed)", resource.Changes);
        Assert.Null(Server.Find("sources.vaikas.dev", "postgressources", "default", "orders")!["spec"]!["eventType"]);
        Assert.Equal(ChangeAction.Configured, Assert.Single(second.Changes, c => c.Kind == "Deployment").Action);
        var status = Assert.Single(second.Changes, c => c.Subresource == "status");
        Assert.Contains("status.observedGeneration", status.Changes);
        Assert.Equal(2, (int)Server.Find("sources.vaikas.dev", "postgressources", "default", "orders")!["status"]!["observedGeneration"]!);
    }

    [Fact]
    public void StatusFollowsTheDeploymentAndKeepsTransitionTimes()
    {
        var source = SyncHarness.Source();
        _harness.Sync([source]);
        var uid = (string)Server.Find("sources.vaikas.dev", "postgressources", "default", "orders")!["metadata"]!["uid"]!;
        var sinkTime = Server.Find("sources.vaikas.dev", "postgressources", "default", "orders")!["status"]!["conditions"]!.AsArray()
            .First(c => (string?)c!["type"] == "SinkProvided")!["lastTransitionTime"]!.ToString();
        Server.SetStatus("apps", "deployments", "default", SourceObjectNames.KubernetesName("orders", uid), new JsonObject { ["availableReplicas"] = 1, ["replicas"] = 1 });

        var second = _harness.Sync([source]);
        var status = Assert.Single(second.Changes, c => c.Subresource == "status");
        Assert.Equal(ChangeAction.Configured, status.Action);
        Assert.Equal(["status.conditions[Deployed]", "status.conditions[Ready]"], status.Changes);
        var resource = Server.Find("sources.vaikas.dev", "postgressources", "default", "orders")!;
        Assert.Equal("True", Condition(resource, "Deployed"));
        Assert.Equal("True", Condition(resource, "Ready"));
        Assert.Equal(sinkTime, resource["status"]!["conditions"]!.AsArray().First(c => (string?)c!["type"] == "SinkProvided")!["lastTransitionTime"]!.ToString());

        var third = _harness.Sync([source]);
        Assert.All(third.Changes, c => Assert.Equal(ChangeAction.Unchanged, c.Action));
    }

    [Fact]
    public void PruneDeletesOnlyTheObjectsOfSourcesNoLongerGiven()
    {
        _harness.Sync([SyncHarness.Source("orders"), SyncHarness.Source("invoices")]);
        var invoicesUid = (string)Server.Find("sources.vaikas.dev", "postgressources", "default", "invoices")!["metadata"]!["uid"]!;
        var invoices = SourceObjectNames.KubernetesName("invoices", invoicesUid);
        // Not ours: a hand-made PostgresSource and a Deployment without our labels stay.
        Server.Seed(new JsonObject
        {
            ["apiVersion"] = "sources.vaikas.dev/v1alpha1", ["kind"] = "PostgresSource",
            ["metadata"] = new JsonObject { ["name"] = "handmade", ["namespace"] = "default" },
            ["spec"] = new JsonObject { ["tables"] = new JsonArray(new JsonObject { ["name"] = "t" }) },
        });
        Server.Seed(new JsonObject
        {
            ["apiVersion"] = "apps/v1", ["kind"] = "Deployment",
            ["metadata"] = new JsonObject { ["name"] = "unrelated", ["namespace"] = "default", ["labels"] = new JsonObject { ["app"] = "web" } },
        });
        Server.ClearRequests();

        var pruned = _harness.Sync([SyncHarness.Source("orders")], new SyncOptions { Prune = true });

        AssertNoViolations();
        Assert.Empty(pruned.Failures);
        Assert.Equal(
        [
            $"DELETE /apis/apps/v1/namespaces/default/deployments/{invoices}",
            $"DELETE /apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/{invoices}",
            $"DELETE /api/v1/namespaces/default/serviceaccounts/{invoices}",
            "DELETE /apis/sources.vaikas.dev/v1alpha1/namespaces/default/postgressources/invoices",
        ], Lines(Server.Writes));
        Assert.All(pruned.Changes.Where(c => c.Source == "default/invoices"), c => Assert.Equal(ChangeAction.Deleted, c.Action));
        Assert.All(pruned.Changes.Where(c => c.Source == "default/orders"), c => Assert.Equal(ChangeAction.Unchanged, c.Action));
        Assert.NotNull(Server.Find("sources.vaikas.dev", "postgressources", "default", "handmade"));
        Assert.NotNull(Server.Find("apps", "deployments", "default", "unrelated"));
        Assert.NotNull(Server.Find("sources.vaikas.dev", "postgressources", "default", "orders"));
        Assert.Contains(Server.Requests, r => r.Method == "GET" && r.Path.EndsWith("/deployments", StringComparison.Ordinal) &&
            r.Query["labelSelector"] == "sources.vaikas.dev/postgressource,app.kubernetes.io/managed-by=postgressource");

        // With -WhatIf, prune only says what it would delete.
        _harness.Sync([SyncHarness.Source("payments")]);
        Server.ClearRequests();
        var whatIf = _harness.Sync([], new SyncOptions { Prune = true }, Approval.WhatIf);
        Assert.Empty(Server.Writes);
        Assert.Equal(8, whatIf.Changes.Count(c => c.Action == ChangeAction.WouldDelete));
    }

    [Fact]
    public void PruneReplacesObjectsOfAnOfflineExport()
    {
        // Objects applied from an offline export have names without the UID and no owner reference.
        var offline = SyncHarness.Source();
        foreach (var document in ManifestExporter.Export([offline], new ExportOptions()).Documents.Where(d => (string?)d["kind"] != "PostgresSource"))
        {
            Server.Seed(document);
        }

        var synced = _harness.Sync([offline], new SyncOptions { Prune = true });

        Assert.Empty(synced.Failures);
        Assert.Equal(
        [
            "ServiceAccount postgressource-orders Deleted",
            "RoleBinding postgressource-orders Deleted",
            "Deployment postgressource-orders Deleted",
        ], synced.Summary.Where(s => s.EndsWith("Deleted", StringComparison.Ordinal)));
    }

    [Fact]
    public void PruneCanRunTheAdapterUninstallJobFirst()
    {
        _harness.Sync([SyncHarness.Source("orders"), SyncHarness.Source("invoices")]);
        var uid = (string)Server.Find("sources.vaikas.dev", "postgressources", "default", "invoices")!["metadata"]!["uid"]!;
        var name = SourceObjectNames.KubernetesName("invoices", uid);
        var deployment = Server.Find("apps", "deployments", "default", name)!;
        Server.ClearRequests();

        var pruned = _harness.Sync([SyncHarness.Source("orders")], new SyncOptions { Prune = true, RunUninstallJob = true });

        AssertNoViolations();
        Assert.Empty(pruned.Failures);
        var jobName = SourceObjects.UninstallJobName(name);
        Assert.Equal(
        [
            $"DELETE /apis/apps/v1/namespaces/default/deployments/{name}",
            $"PATCH /apis/batch/v1/namespaces/default/jobs/{jobName}",
            $"DELETE /apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/{name}",
            $"DELETE /api/v1/namespaces/default/serviceaccounts/{name}",
            "DELETE /apis/sources.vaikas.dev/v1alpha1/namespaces/default/postgressources/invoices",
        ], Lines(Server.Writes));
        var deleteDeployment = Server.Writes[0];
        Assert.Equal("Foreground", deleteDeployment.Query["propagationPolicy"]);

        var job = Server.Find("batch", "jobs", "default", jobName)!;
        var container = job["spec"]!["template"]!["spec"]!["containers"]![0]!;
        var adapter = deployment["spec"]!["template"]!["spec"]!["containers"]![0]!;
        Assert.Equal(["uninstall"], container["args"]!.AsArray().Select(a => (string)a!));
        Assert.True(JsonNode.DeepEquals(adapter["env"], container["env"]));
        Assert.Equal((string?)adapter["image"], (string?)container["image"]);
        Assert.Equal(name, (string?)job["spec"]!["template"]!["spec"]!["serviceAccountName"]);
        Assert.Equal("Never", (string?)job["spec"]!["template"]!["spec"]!["restartPolicy"]);
        Assert.Contains(pruned.Changes, c => c.Kind == "Job" && c.Action == ChangeAction.Created && c.Message!.StartsWith("Completed", StringComparison.Ordinal));
    }

    [Fact]
    public void WhatIfPruneWithUninstallListsEverythingAndWritesNothing()
    {
        _harness.Sync([SyncHarness.Source("invoices")]);
        Server.ClearRequests();

        var whatIf = _harness.Sync([], new SyncOptions { Prune = true, RunUninstallJob = true }, Approval.WhatIf);

        Assert.Empty(Server.Writes);
        Assert.Equal(["Deployment WouldDelete", "Job WouldCreate", "RoleBinding WouldDelete", "ServiceAccount WouldDelete", "PostgresSource WouldDelete"],
            whatIf.Changes.Where(c => c.Source is not null).Select(c => $"{c.Kind} {c.Action}"));
    }

    [Fact]
    public void MissingCrdWithoutClusterResourcesSaysWhatToDo()
    {
        var observer = _harness.Sync([SyncHarness.Source()], new SyncOptions { ManageClusterResources = false });

        var (_, error) = Assert.Single(observer.Failures);
        Assert.StartsWith("The cluster does not serve sources.vaikas.dev/v1alpha1 PostgresSource: the CRD postgressources.sources.vaikas.dev is not installed.", error.Message);
        Assert.Empty(Server.Writes);
    }

    [Fact]
    public void FailedUninstallKeepsTheSourceForARetry()
    {
        _harness.Sync([SyncHarness.Source("invoices")]);
        Server.Jobs = FakeKubernetesApiServer.JobOutcome.Fail;

        var pruned = _harness.Sync([], new SyncOptions { Prune = true, RunUninstallJob = true });

        var (source, error) = Assert.Single(pruned.Failures);
        Assert.Equal("default/invoices", source);
        Assert.IsType<UninstallJobException>(error);
        Assert.Contains("BackoffLimitExceeded", error.Message);
        Assert.NotNull(Server.Find("sources.vaikas.dev", "postgressources", "default", "invoices"));
        Assert.Single(Server.All("", "serviceaccounts"));

        // The retry takes the image and environment from the failed Job and replaces it.
        Server.Jobs = FakeKubernetesApiServer.JobOutcome.Succeed;
        var retry = _harness.Sync([], new SyncOptions { Prune = true, RunUninstallJob = true });
        Assert.Empty(retry.Failures);
        Assert.Null(Server.Find("sources.vaikas.dev", "postgressources", "default", "invoices"));
        Assert.Empty(Server.All("", "serviceaccounts"));
    }

    [Fact]
    public void ForbiddenNamesTheVerbAndResourceAndOtherSourcesGoOn()
    {
        Server.Intercept = r => r.Method == "PATCH" && r.Path.Contains("/deployments/postgressource-orders", StringComparison.Ordinal)
            ? FakeKubernetesApiServer.Forbidden("patch", "deployments", "apps", "default", r.Path.Split('/')[^1])
            : null;

        var observer = _harness.Sync([SyncHarness.Source("orders"), SyncHarness.Source("invoices")]);

        var (source, error) = Assert.Single(observer.Failures);
        Assert.Equal("default/orders", source);
        var forbidden = Assert.IsType<ClusterRequestException>(error);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Equal("patch", forbidden.Verb);
        Assert.Equal("deployments.apps", forbidden.Resource);
        Assert.Contains("Forbidden (403): the cluster does not allow this user to patch deployments.apps \"postgressource-orders-", error.Message);
        Assert.Contains("in namespace default", error.Message);
        Assert.Equal(Remedy.ClusterPermission, forbidden.Remedy);
        Assert.Contains(observer.Changes, c => c.Source == "default/invoices" && c.Kind == "Deployment" && c.Action == ChangeAction.Created);
    }

    [Fact]
    public void ForbiddenCrdInstallStopsTheSync()
    {
        Server.Intercept = r => r.Method == "PATCH" && r.Path.Contains("customresourcedefinitions", StringComparison.Ordinal)
            ? FakeKubernetesApiServer.Forbidden("patch", "customresourcedefinitions", "apiextensions.k8s.io", null, "postgressources.sources.vaikas.dev")
            : null;

        var error = Assert.Throws<ClusterRequestException>(() => _harness.Sync([SyncHarness.Source()]));
        Assert.Contains("patch customresourcedefinitions.apiextensions.k8s.io \"postgressources.sources.vaikas.dev\"", error.Message);
        Assert.Single(Server.Writes);
    }

    [Fact]
    public void UnresolvableSinkIsAClearErrorAndTheStatusSaysSo()
    {
        var observer = _harness.Sync([SyncHarness.Source(sink: SyncHarness.BrokerRef("missing"))]);

        var (_, error) = Assert.Single(observer.Failures);
        Assert.IsType<SinkResolutionException>(error);
        Assert.Equal("The sink of default/orders does not resolve: Broker default/missing (eventing.knative.dev/v1) does not exist.", error.Message);
        Assert.DoesNotContain(observer.Changes, c => c.Kind == "Deployment");
        var resource = Server.Find("sources.vaikas.dev", "postgressources", "default", "orders")!;
        Assert.Equal("False", Condition(resource, "SinkProvided"));
        Assert.Equal("False", Condition(resource, "Ready"));
        Assert.Null(resource["status"]!["sinkUri"]);
    }

    [Fact]
    public void BrokerRefResolvesThroughItsAddressAlsoFromTheSeedsOldApiVersion()
    {
        Server.Seed(new JsonObject
        {
            ["apiVersion"] = "eventing.knative.dev/v1", ["kind"] = "Broker",
            ["metadata"] = new JsonObject { ["name"] = "default", ["namespace"] = "default" },
            ["status"] = new JsonObject { ["address"] = new JsonObject { ["url"] = "http://broker-ingress.knative-eventing.svc.cluster.local/default/default" } },
        });

        var observer = _harness.Sync([SyncHarness.Source(sink: SyncHarness.BrokerRef("default", "eventing.knative.dev/v1beta1"))]);

        Assert.Empty(observer.Failures);
        Assert.Contains(observer.Warnings, w => w.Contains("eventing.knative.dev/v1beta1") && w.Contains("eventing.knative.dev/v1"));
        var resource = Server.Find("sources.vaikas.dev", "postgressources", "default", "orders")!;
        Assert.Equal("http://broker-ingress.knative-eventing.svc.cluster.local/default/default", (string?)resource["status"]!["sinkUri"]);
        Assert.Equal("True", Condition(resource, "SinkProvided"));
    }

    [Fact]
    public void ServiceRefResolvesToItsClusterLocalUrl()
    {
        Server.Seed(new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Service",
            ["metadata"] = new JsonObject { ["name"] = "receiver", ["namespace"] = "shop" },
        });
        var sink = new SinkReference { RefApiVersion = "v1", RefKind = "Service", RefName = "receiver", RefNamespace = "shop", Uri = new Uri("/events", UriKind.Relative) };

        var observer = _harness.Sync([SyncHarness.Source(sink: sink)]);

        Assert.Empty(observer.Failures);
        Assert.Equal("http://receiver.shop.svc.cluster.local/events",
            (string?)Server.Find("sources.vaikas.dev", "postgressources", "default", "orders")!["status"]!["sinkUri"]);
    }

    [Fact]
    public void ConflictIsClearAndForceTakesTheFieldsOver()
    {
        _harness.Sync([SyncHarness.Source()]);
        var uid = (string)Server.Find("sources.vaikas.dev", "postgressources", "default", "orders")!["metadata"]!["uid"]!;
        Server.Conflicts.Add(("deployments", SourceObjectNames.KubernetesName("orders", uid)));

        var conflicted = _harness.Sync([SyncHarness.Source(tables: ["public.orders"])]);
        var (_, error) = Assert.Single(conflicted.Failures);
        var conflict = Assert.IsType<ClusterRequestException>(error);
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        Assert.Contains("conflict with \"kubectl-edit\"", error.Message);
        Assert.Contains("Another field manager owns these fields: they can be taken over (a forced apply)", error.Message);
        Assert.Equal(Remedy.TakeOverFields, conflict.Remedy);

        var forced = _harness.Sync([SyncHarness.Source(tables: ["public.orders"])], new SyncOptions { Force = true });
        Assert.Empty(forced.Failures);
        Assert.Equal(ChangeAction.Configured, Assert.Single(forced.Changes, c => c.Kind == "Deployment").Action);
        Assert.Equal("true", Server.Writes.Last(w => w.Path.Contains("/deployments/", StringComparison.Ordinal)).Query["force"]);
    }

    [Fact]
    public void CrdInstalledBySomeoneElseIsLeftAlone()
    {
        var crd = JsonTree.ToJson(PostgresSourceCrd.Build());
        ((JsonObject)crd["metadata"]!).Remove("labels");
        crd["status"] = new JsonObject { ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Established", ["status"] = "True" }) };
        Server.Seed(crd);

        var observer = _harness.Sync([SyncHarness.Source()]);

        Assert.DoesNotContain(Server.Writes, w => w.Path.Contains("customresourcedefinitions", StringComparison.Ordinal));
        Assert.Equal(ChangeAction.Unchanged, observer.Changes[0].Action);
        Assert.Empty(observer.Failures);
    }

    [Fact]
    public void NamespaceOverridePutsEverySourceThere()
    {
        var observer = _harness.Sync([SyncHarness.Source("orders", "default")], new SyncOptions { Namespace = "shop" });

        Assert.Empty(observer.Failures);
        Assert.NotNull(Server.Find("sources.vaikas.dev", "postgressources", "shop", "orders"));
        Assert.Null(Server.Find("sources.vaikas.dev", "postgressources", "default", "orders"));
    }

    [Fact]
    public void SourceWithoutSinkIsRejectedBeforeAnyWrite()
    {
        var source = SyncHarness.Source() with { Sink = null };
        var observer = _harness.Sync([source], new SyncOptions { ManageClusterResources = false });

        var (_, error) = Assert.Single(observer.Failures);
        Assert.Contains("has no sink", error.Message);
        Assert.Equal(Remedy.GiveSink, Assert.IsType<SinkResolutionException>(error).Remedy);
        Assert.Empty(Server.Requests);
    }

    [Fact]
    public void UnreachableClusterStopsTheSyncWithAClearError()
    {
        var port = Server.Url[(Server.Url.LastIndexOf(':') + 1)..];
        Server.Dispose();
        var error = Assert.Throws<ClusterUnreachableException>(() => _harness.Sync([SyncHarness.Source()]));
        Assert.StartsWith($"Cannot reach the Kubernetes API server at http://127.0.0.1:{port}", error.Message);
    }

    [Fact]
    public async Task RejectedCredentialsStopTheSync()
    {
        var kubeconfig = Server.WriteKubeconfig(_harness.Directory, token: "expired");
        var observer = new RecordingObserver();
        using var api = KubernetesClusterApi.Connect(kubeconfig, null);
        var engine = new ClusterSynchronizer(api, new SyncOptions(), observer);

        var error = await Assert.ThrowsAsync<ClusterRequestException>(() => engine.SyncAsync([SyncHarness.Source()], CancellationToken.None));
        Assert.Equal(HttpStatusCode.Unauthorized, error.StatusCode);
        Assert.Contains("did not accept the kubeconfig credentials (401 Unauthorized) for: get customresourcedefinitions.apiextensions.k8s.io", error.Message);
        Assert.Equal(Remedy.ClusterLogin, error.Remedy);
    }

    [Fact]
    public void ManySourcesReportProgress()
    {
        var sources = Enumerable.Range(1, 12).Select(i => SyncHarness.Source($"source-{i}")).ToList();
        var observer = _harness.Sync(sources);
        Assert.Empty(observer.Failures);
        Assert.True(observer.ProgressCalls >= 13);
        Assert.Equal(12, observer.Changes.Count(c => c.Kind == "Deployment" && c.Action == ChangeAction.Created));
    }
}
