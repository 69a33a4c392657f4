using System.Text.Json.Nodes;
using PostgresSource.Core.Hosting;
using PostgresSource.Kubernetes.Controller;
using PostgresSource.Core.Naming;
using PostgresSource.Kubernetes.Manifests;
using PostgresSource.TestSupport;

namespace PostgresSource.Kubernetes.Tests;

/// <summary>
/// The controller hosted in-process against the fake API server (through KubernetesClient, as in a cluster), with
/// short intervals, a stub adapter answering GET /state, and the helpers a test uses to act as a user.
/// </summary>
internal sealed class ControllerHarness : IAsyncDisposable
{
    public const string Group = "sources.vaikas.dev";
    public const string Plural = "postgressources";
    public const string BrokerUrl = "http://broker-ingress.knative-eventing.svc.cluster.local/default/default";

    private readonly string _directory = Directory.CreateTempSubdirectory("pgsource-controller-").FullName;
    private readonly List<Running> _running = [];
    private HealthServer? _adapter;

    public ControllerHarness()
    {
        Server = new FakeKubernetesApiServer();
        InstallCrd(Server);
    }

    /// <summary>The CRD, established, as the controller's install manifests leave it: the controller never writes it.</summary>
    public static void InstallCrd(FakeKubernetesApiServer server)
    {
        var crd = JsonTree.ToJson(PostgresSourceCrd.Build());
        crd["status"] = new JsonObject { ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Established", ["status"] = "True" }) };
        server.Seed(crd);
    }

    public FakeKubernetesApiServer Server { get; }

    /// <summary>What the stub adapter reports on GET /state.</summary>
    public AdapterState AdapterReport { get; set; } = new() { Connected = true, Mode = "Durable", Sink = "up", BacklogRows = 0 };

    public static ControllerOptions Options(string identity) => new()
    {
        Identity = identity,
        AdapterImage = "example.test/pgsource-adapter:test",
        ResyncInterval = TimeSpan.FromMilliseconds(400),
        PollInterval = TimeSpan.FromMilliseconds(50),
        BackoffBase = TimeSpan.FromMilliseconds(50),
        BackoffMax = TimeSpan.FromMilliseconds(400),
        LeaseDuration = TimeSpan.FromSeconds(2),
        RenewInterval = TimeSpan.FromMilliseconds(300),
        RetryInterval = TimeSpan.FromMilliseconds(150),
        StateTimeout = TimeSpan.FromSeconds(2),
        Workers = 2,
    };

    /// <summary>A running controller; <see cref="StopAsync"/> cancels it as SIGTERM does.</summary>
    public sealed class Running(ControllerHost host, CancellationTokenSource stop, Task run, StringWriter log, IClusterApi api)
    {
        public ControllerHost Host { get; } = host;

        public string Log => log.ToString();

        public async Task StopAsync()
        {
            if (!stop.IsCancellationRequested)
            {
                await stop.CancelAsync();
                await run.WaitAsync(TimeSpan.FromSeconds(10));
                (api as IDisposable)?.Dispose();
            }
        }
    }

    public Running Start(string token = FakeKubernetesApiServer.Token, string identity = "controller-a", Func<ControllerOptions, ControllerOptions>? adjust = null)
    {
        var kubeconfig = Server.WriteKubeconfig(Directory.CreateDirectory(Path.Combine(_directory, identity)).FullName, token);
        var api = KubernetesClusterApi.Connect(kubeconfig, null);
        var options = Options(identity);
        options = adjust?.Invoke(options) ?? options;
        var writer = new StringWriter();
        var log = new JsonLog(TextWriter.Synchronized(writer));
        var host = new ControllerHost(api, options, Http, () => DateTimeOffset.UtcNow, log);
        var stop = new CancellationTokenSource();
        var run = Task.Run(() => host.RunAsync(stop.Token));
        var running = new Running(host, stop, run, writer, api);
        _running.Add(running);
        return running;
    }

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(2) };

    public static JsonObject Broker(string url = BrokerUrl) => new()
    {
        ["apiVersion"] = "eventing.knative.dev/v1",
        ["kind"] = "Broker",
        ["metadata"] = new JsonObject { ["name"] = "default", ["namespace"] = "default" },
        ["status"] = new JsonObject { ["address"] = new JsonObject { ["url"] = url } },
    };

    /// <summary>The PostgresSource a user applies: orders, to the default Broker.</summary>
    public static JsonObject Resource(params string[] tables) =>
        SourceObjects.CustomResource(SyncHarness.Source(sink: SyncHarness.BrokerRef(), tables: tables));

    public JsonObject? Find() => Server.Find(Group, Plural, "default", "orders");

    public JsonObject? Deployment()
    {
        var uid = JsonTree.GetString(Find(), "metadata", "uid");
        return uid is null ? null : Server.Find("apps", "deployments", "default", SourceObjectNames.KubernetesName("orders", uid));
    }

    public static string? Env(JsonObject? deployment, string name) =>
        deployment is null ? null : UninstallJobRunner.EnvironmentValue(deployment, name);

    public static string? Condition(JsonObject? resource, string type, string field = "status") =>
        JsonTree.GetString(SourceStatus.FindCondition(resource, type), field);

    /// <summary>Makes the adapter look up: its Deployment available, a running pod whose "http" port is the stub adapter.</summary>
    public void AdapterRuns()
    {
        _adapter ??= new HealthServer(0, new Dictionary<string, Func<HealthAnswer>>
        {
            [AdapterState.Path] = () => new(200, "application/json", AdapterReport.ToJson()),
        }, new JsonLog(TextWriter.Null));
        var deployment = Deployment() ?? throw new InvalidOperationException("No adapter Deployment yet.");
        var name = JsonTree.GetString(deployment, "metadata", "name")!;
        Server.SetStatus("apps", "deployments", "default", name, new JsonObject
        {
            ["observedGeneration"] = JsonTree.GetInt64(deployment, "metadata", "generation") ?? 1,
            ["replicas"] = 1,
            ["availableReplicas"] = 1,
            ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Available", ["status"] = "True" }),
        });
        if (Server.Find("", "pods", "default", name + "-pod") is null)
        {
            Server.Seed(new JsonObject
            {
                ["apiVersion"] = "v1",
                ["kind"] = "Pod",
                ["metadata"] = new JsonObject
                {
                    ["name"] = name + "-pod",
                    ["namespace"] = "default",
                    ["labels"] = new JsonObject(SourceObjects.Labels("orders").Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value))),
                },
                ["spec"] = new JsonObject
                {
                    ["containers"] = new JsonArray(new JsonObject
                    {
                        ["name"] = PgSourceKube.ContainerName,
                        ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["containerPort"] = _adapter.Port }),
                    }),
                },
                ["status"] = new JsonObject { ["phase"] = "Running", ["podIP"] = "127.0.0.1" },
            });
        }
    }

    public IReadOnlyList<JsonObject> Events() => Server.All("events.k8s.io", "events");

    /// <summary>Waits for an Event: the controller records it after the status write a test usually waits for.</summary>
    public Task EventRecorded(string reason, string? type = null) =>
        WaitFor(() => Events().Any(e => (string?)e["reason"] == reason && (type is null || (string?)e["type"] == type)), $"an Event {reason} {type}");

    public static async Task WaitFor(Func<bool> condition, string what, double seconds = 15)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Waited {seconds} s for: {what}");
            }
            await Task.Delay(25);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var running in _running)
        {
            await running.StopAsync();
        }
        if (_adapter is not null)
        {
            await _adapter.DisposeAsync();
        }
        Server.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
