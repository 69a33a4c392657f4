using PostgresSource.Core.Diagnostics;
using PostgresSource.Kubernetes;
using PostgresSource.Kubernetes.Manifests;
using PostgresSource.Core.Sources;
using PostgresSource.TestSupport;

namespace PostgresSource.Kubernetes.Tests;

/// <summary>Records what the sync engine reports, and answers its confirmations.</summary>
internal sealed class RecordingObserver(Approval answer = Approval.Approved) : ISyncObserver
{
    public Approval Answer { get; set; } = answer;
    public List<PlannedChange> Asked { get; } = [];
    public List<ObjectChange> Changes { get; } = [];
    public List<string> Warnings { get; } = [];
    public List<string> VerboseLines { get; } = [];
    public List<(string Source, Exception Error)> Failures { get; } = [];
    public int ProgressCalls { get; private set; }

    public Approval Approve(PlannedChange change)
    {
        Asked.Add(change);
        return Answer;
    }

    public void Report(ObjectChange change) => Changes.Add(change);
    public void Warn(string message, Remedy remedy) => Warnings.Add(message);
    public void Verbose(string message) => VerboseLines.Add(message);
    public void Progress(int done, int total, string activity) => ProgressCalls++;
    public void Failed(string source, Exception error) => Failures.Add((source, error));

    public IEnumerable<string> Summary => Changes.Select(c => $"{c.Kind}{(c.Subresource is null ? "" : "/" + c.Subresource)} {c.Name} {c.Action}");
}

/// <summary>A fake API server, a kubeconfig for it, and the real KubernetesClient-based API on top.</summary>
internal sealed class SyncHarness : IDisposable
{
    public const string Uri = "http://receiver.default.svc.cluster.local/events";

    private readonly string _directory = System.IO.Directory.CreateTempSubdirectory("pgsource-k8s-").FullName;

    public SyncHarness()
    {
        Server = new FakeKubernetesApiServer();
        KubeconfigPath = Server.WriteKubeconfig(_directory);
    }

    public FakeKubernetesApiServer Server { get; }

    public string KubeconfigPath { get; }

    public string Directory => _directory;

    public static SourceDefinition Source(string name = "orders", string @namespace = "default", SinkReference? sink = null, params string[] tables) => new SourceDefinition
    {
        Name = name,
        Namespace = @namespace,
        Tables = (tables.Length == 0 ? ["public.orders", "items"] : tables).Select(TableName.Parse).ToList(),
        Sink = sink ?? SinkReference.FromUri(new Uri(Uri)),
        SecretName = "sql-secret",
    }.Validate();

    public static SinkReference BrokerRef(string name = "default", string apiVersion = "eventing.knative.dev/v1") =>
        new() { RefApiVersion = apiVersion, RefKind = "Broker", RefName = name };

    public RecordingObserver Sync(IEnumerable<SourceDefinition> sources, SyncOptions? options = null, Approval answer = Approval.Approved)
    {
        var observer = new RecordingObserver(answer);
        using var api = KubernetesClusterApi.Connect(KubeconfigPath, null);
        var engine = new ClusterSynchronizer(api, (options ?? new SyncOptions()) with { PollInterval = TimeSpan.FromMilliseconds(20) }, observer,
            () => new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
        engine.SyncAsync(sources.ToList(), CancellationToken.None).GetAwaiter().GetResult();
        return observer;
    }

    public void Dispose()
    {
        Server.Dispose();
        try
        {
            System.IO.Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
