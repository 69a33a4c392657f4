using System.Text.Json.Nodes;
using k8s.Models;
using PostgresSource.Kubernetes.Manifests;
using PostgresSource.TestSupport;

namespace PostgresSource.Kubernetes.Tests;

/// <summary>
/// The controller's RBAC is least privilege: no wildcards, no Secrets or ConfigMaps, writes only on what it makes;
/// and it is enough: every request the controller sends through a source's whole life (apply, ready, delete with the
/// uninstall Job) is allowed by the ClusterRole or the Lease Role, evaluated as the RBAC authorizer does.
/// </summary>
public sealed class ControllerRbacTests : IAsyncLifetime
{
    private static readonly HashSet<string> WriteVerbs = ["create", "update", "patch", "delete", "deletecollection", "bind", "escalate", "impersonate"];

    private readonly ControllerHarness _harness = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _harness.DisposeAsync();

    private static IEnumerable<V1PolicyRule> AllRules() =>
        ControllerManifests.ControllerRules()
            .Concat(ControllerManifests.LeaderElectionRoleObject().Rules)
            .Concat(ControllerManifests.SourceObserverClusterRole().Rules);

    [Fact]
    public void NoWildcardsNoSecretsNoConfigMapsNoNonResourceUrls()
    {
        Assert.All(AllRules(), rule =>
        {
            Assert.DoesNotContain("*", rule.Verbs);
            Assert.DoesNotContain("*", rule.Resources);
            Assert.DoesNotContain("*", rule.ApiGroups);
            Assert.Null(rule.NonResourceURLs);
            Assert.DoesNotContain("secrets", rule.Resources);
            Assert.DoesNotContain("configmaps", rule.Resources);
            Assert.DoesNotContain("escalate", rule.Verbs);
            Assert.DoesNotContain("impersonate", rule.Verbs);
            Assert.DoesNotContain("deletecollection", rule.Verbs);
        });
    }

    [Fact]
    public void WritesAreExactlyTheOnesTheControllerMakes()
    {
        var writes = ControllerManifests.ControllerRules()
            .SelectMany(r => r.ApiGroups.SelectMany(g => r.Resources.SelectMany(res => r.Verbs.Where(WriteVerbs.Contains).Select(v => $"{v} {res}{(g.Length == 0 ? "" : "." + g)}"))))
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.Equal(
        [
            "bind clusterroles.rbac.authorization.k8s.io",
            "create deployments.apps",
            "create events.events.k8s.io",
            "create jobs.batch",
            "create rolebindings.rbac.authorization.k8s.io",
            "create serviceaccounts",
            "delete deployments.apps",
            "delete jobs.batch",
            "patch deployments.apps",
            "patch jobs.batch",
            "patch postgressources.sources.vaikas.dev",
            "patch postgressources/status.sources.vaikas.dev",
            "patch rolebindings.rbac.authorization.k8s.io",
            "patch serviceaccounts",
            "update postgressources/finalizers.sources.vaikas.dev",
        ], writes);

        // bind only on the adapter's ClusterRole: RoleBindings to it, not to anything else.
        var bind = Assert.Single(ControllerManifests.ControllerRules(), r => r.Verbs.Contains("bind"));
        Assert.Equal([PgSourceKube.AdapterClusterRole], bind.ResourceNames);
        // The Lease Role is namespaced, in the controller's namespace, and only about Leases.
        var role = ControllerManifests.LeaderElectionRoleObject();
        Assert.Equal(PgSourceKube.ControllerNamespace, role.Metadata.NamespaceProperty);
        Assert.Equal(["leases"], role.Rules.SelectMany(r => r.Resources));
        // The source observer only reads, and carries the label Knative's aggregated source-observer role selects.
        var observer = ControllerManifests.SourceObserverClusterRole();
        Assert.Equal("true", observer.Metadata.Labels[ControllerManifests.KnativeSourceDuckLabel]);
        Assert.All(observer.Rules, r => Assert.Equal(["get", "list", "watch"], r.Verbs));
    }

    [Fact]
    public void EveryKindTheControllerWritesForASourceIsCovered()
    {
        // The per-source kinds and the uninstall Job are read and server-side applied (an apply that creates needs create).
        foreach (var type in ResourceType.PerSourceKinds.Append(ResourceType.Job))
        {
            foreach (var verb in new[] { "get", "create", "patch" })
            {
                Assert.True(Allows(ControllerManifests.ControllerRules(), verb, type.Group, type.Plural, null, "any"), $"{verb} {type.Resource}");
            }
        }
        // Their owner references block the owner's deletion, which needs update on the owner's finalizers.
        Assert.True(Allows(ControllerManifests.ControllerRules(), "update", PgSourceKube.Group, PgSourceKube.Plural + "/finalizers", null, "orders"));
        // The per-source RoleBinding's subject is bound to what the controller may bind.
        Assert.True(Allows(ControllerManifests.ControllerRules(), "bind", "rbac.authorization.k8s.io", "clusterroles", null, PgSourceKube.AdapterClusterRole));
    }

    [Fact]
    public async Task EveryRequestOfASourcesWholeLifeIsAllowed()
    {
        var server = _harness.Server;
        _harness.Start();
        server.Seed(ControllerHarness.Broker());
        server.UserApply(ControllerHarness.Resource());
        await ControllerHarness.WaitFor(() => _harness.Deployment() is not null, "the adapter Deployment");
        _harness.AdapterRuns();
        await ControllerHarness.WaitFor(() => ControllerHarness.Condition(_harness.Find(), "Ready") == "True", "Ready True");
        await ControllerHarness.WaitFor(() => server.OpenWatches >= 2, "the watches on PostgresSources and on the sink's Brokers");
        server.UserDelete(ControllerHarness.Group, ControllerHarness.Plural, "default", "orders");
        await ControllerHarness.WaitFor(() => _harness.Find() is null, "the resource is gone");
        await ControllerHarness.WaitFor(() => server.Requests.Any(r => r.Method == "PUT" && r.Path.Contains("/leases/", StringComparison.Ordinal)), "a Lease renewal");

        var clusterRules = ControllerManifests.ControllerRules();
        var leaseRules = ControllerManifests.LeaderElectionRoleObject().Rules;
        var denied = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var request in server.Requests)
        {
            if (Attributes(request) is not { } attributes)
            {
                continue; // discovery (/apis): every authenticated identity may read it
            }
            foreach (var verb in attributes.Verbs)
            {
                var key = $"{verb} {attributes.Resource}{(attributes.Group.Length == 0 ? "" : "." + attributes.Group)}";
                seen.Add(key);
                var allowed = Allows(clusterRules, verb, attributes.Group, attributes.Resource, attributes.Namespace, attributes.Name)
                    || (attributes.Namespace == PgSourceKube.ControllerNamespace && Allows(leaseRules, verb, attributes.Group, attributes.Resource, attributes.Namespace, attributes.Name));
                if (!allowed)
                {
                    denied.Add($"{key} ({request})");
                }
            }
        }
        Assert.True(denied.Count == 0, "Forbidden by the controller's RBAC:\n" + string.Join("\n", denied.Distinct()));
        // The run went through every kind of call, so the check above means something.
        string[] expected =
        [
            "list postgressources.sources.vaikas.dev", "watch postgressources.sources.vaikas.dev", "patch postgressources.sources.vaikas.dev",
            "patch postgressources/status.sources.vaikas.dev", "create deployments.apps", "delete deployments.apps", "create jobs.batch",
            "list pods", "create events.events.k8s.io", "get brokers.eventing.knative.dev", "list brokers.eventing.knative.dev", "watch brokers.eventing.knative.dev", "create leases.coordination.k8s.io", "update leases.coordination.k8s.io",
        ];
        var missing = expected.Except(seen).ToList();
        Assert.True(missing.Count == 0, "Calls the run never made: " + string.Join(", ", missing));
    }

    private sealed record RequestAttributes(IReadOnlyList<string> Verbs, string Group, string Resource, string? Namespace, string? Name);

    /// <summary>What the API server's authorizer checks for a request: verb(s), group, resource[/subresource], namespace, name.</summary>
    private static RequestAttributes? Attributes(FakeKubernetesApiServer.RecordedRequest request)
    {
        var segments = request.Path.Trim('/').Split('/');
        int rest;
        string group;
        if (segments is ["api", _, _, ..])
        {
            (group, rest) = (string.Empty, 2);
        }
        else if (segments is ["apis", _, _, _, ..])
        {
            (group, rest) = (segments[1], 3);
        }
        else
        {
            return null;
        }
        string? @namespace = null;
        if (segments.Length > rest + 2 && segments[rest] == "namespaces")
        {
            @namespace = segments[rest + 1];
            rest += 2;
        }
        var resource = segments[rest];
        var name = segments.Length > rest + 1 ? segments[rest + 1] : null;
        if (segments.Length > rest + 2)
        {
            resource += "/" + segments[rest + 2];
        }
        IReadOnlyList<string> verbs = request.Method switch
        {
            "GET" when name is null => [request.Query.GetValueOrDefault("watch") is "true" or "1" ? "watch" : "list"],
            "GET" => ["get"],
            "POST" => ["create"],
            "PUT" => ["update"],
            // Server-side apply of an object that does not exist yet is a create as well.
            "PATCH" when request.ContentType?.StartsWith("application/apply-patch", StringComparison.Ordinal) == true && !resource.Contains('/') => ["patch", "create"],
            "PATCH" => ["patch"],
            "DELETE" => ["delete"],
            _ => [request.Method.ToLowerInvariant()],
        };
        return new RequestAttributes(verbs, group, resource, @namespace, name);
    }

    private static bool Allows(IEnumerable<V1PolicyRule> rules, string verb, string group, string resource, string? @namespace, string? name) =>
        rules.Any(rule =>
            rule.Verbs.Contains(verb)
            && rule.ApiGroups.Contains(group)
            && rule.Resources.Contains(resource)
            && (rule.ResourceNames is null || rule.ResourceNames.Count == 0 || (name is not null && verb != "create" && rule.ResourceNames.Contains(name))));
}
