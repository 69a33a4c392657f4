using k8s;
using k8s.Models;
using PostgresSource.Kubernetes;
using PostgresSource.Kubernetes.Manifests;
using PostgresSource.Core.Sources;

namespace PostgresSource.Kubernetes.Tests;

/// <summary>Runs only against a real, disposable cluster: set PGSOURCE_TEST_KUBECONFIG (see README.md).</summary>
public sealed class RealClusterFactAttribute : FactAttribute
{
    public const string Variable = "PGSOURCE_TEST_KUBECONFIG";

    public RealClusterFactAttribute()
    {
        var path = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(path))
        {
            Skip = $"No real cluster configured: set {Variable} to the kubeconfig of a disposable cluster to run this test (with kind: see tests/PostgresSource.Kubernetes.Tests/README.md).";
        }
        else if (!File.Exists(path))
        {
            Skip = $"{Variable} is set to '{path}', which does not exist.";
        }
    }
}

/// <summary>
/// The sync flows against a real API server: server-side apply, owner references and garbage collection,
/// idempotence, -WhatIf and prune. Each test works in a namespace of its own and deletes it afterwards; the
/// CRD and the adapter ClusterRole stay installed.
/// </summary>
public sealed class RealClusterTests : IAsyncLifetime
{
    private readonly string _namespace = "pgsource-test-" + Guid.NewGuid().ToString("N")[..8];
    private k8s.Kubernetes? _client;

    private static string Kubeconfig => Environment.GetEnvironmentVariable(RealClusterFactAttribute.Variable)!;

    public async Task InitializeAsync()
    {
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(RealClusterFactAttribute.Variable)))
        {
            return;
        }
        _client = new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(Kubeconfig));
        await _client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = _namespace } });
    }

    public async Task DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.CoreV1.DeleteNamespaceAsync(_namespace);
            _client.Dispose();
        }
    }

    private SourceDefinition Source(string name) => new SourceDefinition
    {
        Name = name,
        Namespace = _namespace,
        Tables = [TableName.Parse("public.orders")],
        Sink = SinkReference.FromUri(new Uri($"http://receiver.{_namespace}.svc.cluster.local/")),
        SecretName = "sql-secret",
    }.Validate();

    private RecordingObserver Sync(IEnumerable<SourceDefinition> sources, SyncOptions? options = null, Approval answer = Approval.Approved)
    {
        var observer = new RecordingObserver(answer);
        using var api = KubernetesClusterApi.Connect(Kubeconfig, null);
        new ClusterSynchronizer(api, (options ?? new SyncOptions()) with { Namespace = _namespace }, observer)
            .SyncAsync(sources.ToList(), CancellationToken.None).GetAwaiter().GetResult();
        Assert.Empty(observer.Failures);
        return observer;
    }

    [RealClusterFact]
    public async Task SyncIsIdempotentWhatIfWritesNothingAndPruneCleansUp()
    {
        var first = Sync([Source("orders")]);
        Assert.Contains(first.Changes, c => c.Kind == "Deployment" && c.Action == ChangeAction.Created);
        Assert.Contains(first.Changes, c => c.Kind == "PostgresSource" && c.Subresource == "status" && c.Action == ChangeAction.Created);

        var second = Sync([Source("orders")]);
        Assert.All(second.Changes.Where(c => c.Subresource is null), c => Assert.Equal(ChangeAction.Unchanged, c.Action));

        var deployments = await _client!.AppsV1.ListNamespacedDeploymentAsync(_namespace);
        var deployment = Assert.Single(deployments.Items);
        Assert.Contains(deployment.Metadata.ManagedFields, f => f.Manager == "postgressource" && f.Operation == "Apply");
        Assert.Equal("PostgresSource", Assert.Single(deployment.Metadata.OwnerReferences).Kind);
        var version = deployment.Metadata.ResourceVersion;

        var whatIf = Sync([Source("orders") with { Tables = [TableName.Parse("public.items")] }], answer: Approval.WhatIf);
        Assert.Contains(whatIf.Changes, c => c.Kind == "Deployment" && c.Action == ChangeAction.WouldConfigure);
        Assert.Equal(version, (await _client.AppsV1.ReadNamespacedDeploymentAsync(deployment.Metadata.Name, _namespace)).Metadata.ResourceVersion);

        var pruned = Sync([], new SyncOptions { Prune = true });
        Assert.Equal(4, pruned.Changes.Count(c => c.Action == ChangeAction.Deleted));
        Assert.Empty((await _client.AppsV1.ListNamespacedDeploymentAsync(_namespace)).Items);
    }

    [RealClusterFact]
    public async Task DeletingThePostgresSourceGarbageCollectsItsObjects()
    {
        Sync([Source("invoices")]);
        await _client!.CustomObjects.DeleteNamespacedCustomObjectAsync(PgSourceKube.Group, PgSourceKube.Version, _namespace, PgSourceKube.Plural, "invoices");

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((await _client.AppsV1.ListNamespacedDeploymentAsync(_namespace)).Items.Count > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "The Deployment was not garbage collected within 60 s.");
            await Task.Delay(1000);
        }
    }
}
