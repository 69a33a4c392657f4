using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using PostgresSource.Core.Hosting;
using PostgresSource.Core.Sources;
using PostgresSource.Kubernetes.Controller;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes.Tests;

/// <summary>
/// Runs only against a real, disposable cluster that can run the adapter: PGSOURCE_TEST_KUBECONFIG and
/// PGSOURCE_TEST_ADAPTER_IMAGE (an adapter image the cluster has, e.g. loaded with kind load docker-image).
/// </summary>
public sealed class RealClusterControllerFactAttribute : FactAttribute
{
    public const string ImageVariable = "PGSOURCE_TEST_ADAPTER_IMAGE";

    public RealClusterControllerFactAttribute()
    {
        Skip = new RealClusterFactAttribute().Skip;
        if (Skip is null && string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(ImageVariable)))
        {
            Skip = $"Set {ImageVariable} to an adapter image the cluster can run (see tests/PostgresSource.Kubernetes.Tests/README.md).";
        }
    }
}

/// <summary>
/// The controller (in-process, through the kubeconfig, adapter reached by the API server's pod proxy) against a real
/// cluster: kubectl apply → the adapter runs against a PostgreSQL in the namespace → Ready True → kubectl delete →
/// the uninstall Job removes the publication and slot → the finalizer is released and the resource is gone.
/// </summary>
public sealed class RealClusterControllerTests : IAsyncLifetime
{
    private const string Password = "pgsource-test-only";
    private readonly string _namespace = "pgsource-ctl-" + Guid.NewGuid().ToString("N")[..8];
    private k8s.Kubernetes? _client;

    private static string Kubeconfig => Environment.GetEnvironmentVariable(RealClusterFactAttribute.Variable)!;

    private static string Image(string variable, string fallback) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value ? value : fallback;

    public async Task InitializeAsync()
    {
        if (new RealClusterControllerFactAttribute().Skip is not null)
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

    [RealClusterControllerFact]
    public async Task ApplyTurnsReadyAndDeleteUninstallsThenReleasesTheFinalizer()
    {
        using var api = KubernetesClusterApi.Connect(Kubeconfig, null);
        await api.ApplyAsync(ResourceType.CustomResourceDefinition, JsonTree.ToJson(PostgresSourceCrd.Build()), force: true, CancellationToken.None);
        await api.ApplyAsync(ResourceType.ClusterRole, JsonTree.ToJson(SourceObjects.AdapterClusterRole()), force: true, CancellationToken.None);
        await StartPostgresAndSinkAsync();

        var source = new SourceDefinition
        {
            Name = "orders",
            Namespace = _namespace,
            Mode = CaptureMode.Logical,
            Tables = [TableName.Parse("public.orders")],
            Sink = SinkReference.FromUri(new Uri($"http://sink.{_namespace}.svc.cluster.local/")),
            SecretName = "sql-secret",
        }.Validate();
        await _client!.CoreV1.CreateNamespacedSecretAsync(SourceObjects.ConnectionSecret(source, $"postgresql://postgres:{Password}@pg.{_namespace}.svc:5432/postgres"), _namespace);

        var options = new ControllerOptions
        {
            Namespaces = [_namespace],
            LeaseNamespace = _namespace,
            AdapterImage = Environment.GetEnvironmentVariable(RealClusterControllerFactAttribute.ImageVariable)!,
            AdapterRoute = AdapterRoute.ApiServerProxy,
            ResyncInterval = TimeSpan.FromSeconds(3),
            PollInterval = TimeSpan.FromSeconds(1),
        };
        using var http = new HttpClient { Timeout = options.StateTimeout };
        var log = new StringWriter();
        var host = new ControllerHost(api, options, http, () => DateTimeOffset.UtcNow, new JsonLog(TextWriter.Synchronized(log)));
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => host.RunAsync(stop.Token));
        try
        {
            await _client.CustomObjects.CreateNamespacedCustomObjectAsync(SourceObjects.CustomResource(source), PgSourceKube.Group, PgSourceKube.Version, _namespace, PgSourceKube.Plural);
            await WaitAsync(async () => Condition(await ResourceAsync(), "Ready") == "True", "Ready True (kubectl wait --for=condition=Ready)", TimeSpan.FromMinutes(4), log);
            var ready = (await ResourceAsync())!;
            Assert.Equal(true, (bool?)ready["status"]?["adapter"]?["connected"]);
            Assert.Contains(PgSourceKube.Finalizer, (ready["metadata"]!["finalizers"] as JsonArray)!.Select(f => (string?)f));
            Assert.True(await CheckAsync("slot-before", "select count(*) = 1 from pg_replication_slots"), "The adapter made no replication slot.");

            await _client.CustomObjects.DeleteNamespacedCustomObjectAsync(PgSourceKube.Group, PgSourceKube.Version, _namespace, PgSourceKube.Plural, "orders");
            await WaitAsync(async () => await ResourceAsync() is null, "the finalizer released and the resource gone", TimeSpan.FromMinutes(4), log);
            Assert.True(await CheckAsync("slot-after", "select (select count(*) from pg_replication_slots) + (select count(*) from pg_publication) = 0"),
                "The uninstall left a slot or a publication behind.");
            var events = await _client.EventsV1.ListNamespacedEventAsync(_namespace);
            Assert.Contains(events.Items, e => e.Reason == "Uninstalled");
        }
        finally
        {
            await stop.CancelAsync();
            await run.WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    private async Task<JsonObject?> ResourceAsync()
    {
        using var api = KubernetesClusterApi.Connect(Kubeconfig, null);
        return await api.GetAsync(ResourceType.PostgresSource, _namespace, "orders", CancellationToken.None);
    }

    private static string? Condition(JsonObject? resource, string type) => JsonTree.GetString(SourceStatus.FindCondition(resource, type), "status");

    private static async Task WaitAsync(Func<Task<bool>> condition, string what, TimeSpan timeout, StringWriter log)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Waited {timeout} for: {what}\n{log}");
            await Task.Delay(1000);
        }
    }

    /// <summary>PostgreSQL with wal_level=logical and a table, and an nginx that answers every POST with 202: the sink.</summary>
    private async Task StartPostgresAndSinkAsync()
    {
        await _client!.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap
        {
            Metadata = new V1ObjectMeta { Name = "pg-init" },
            Data = new Dictionary<string, string>
            {
                ["init.sql"] = "create table public.orders (id int primary key, item text);",
                ["sink.conf"] = "server { listen 8080; location / { return 202; } }",
            },
        }, _namespace);
        await RunAsync("pg", 5432, new V1Container
        {
            Name = "postgres",
            Image = Image("PGSOURCE_TEST_POSTGRES_IMAGE", "postgres:16"),
            Args = ["-c", "wal_level=logical"],
            Env = [new V1EnvVar { Name = "POSTGRES_PASSWORD", Value = Password }],
            Ports = [new V1ContainerPort { ContainerPort = 5432 }],
            ReadinessProbe = new V1Probe { Exec = new V1ExecAction { Command = ["pg_isready", "-U", "postgres", "-h", "127.0.0.1"] }, PeriodSeconds = 2 },
            VolumeMounts = [new V1VolumeMount { Name = "init", MountPath = "/docker-entrypoint-initdb.d" }],
        }, new V1Volume { Name = "init", ConfigMap = new V1ConfigMapVolumeSource { Name = "pg-init", Items = [new V1KeyToPath { Key = "init.sql", Path = "init.sql" }] } });
        await RunAsync("sink", 8080, new V1Container
        {
            Name = "nginx",
            Image = Image("PGSOURCE_TEST_SINK_IMAGE", "nginx:1.27-alpine"),
            Ports = [new V1ContainerPort { ContainerPort = 8080 }],
            VolumeMounts = [new V1VolumeMount { Name = "conf", MountPath = "/etc/nginx/conf.d" }],
        }, new V1Volume { Name = "conf", ConfigMap = new V1ConfigMapVolumeSource { Name = "pg-init", Items = [new V1KeyToPath { Key = "sink.conf", Path = "default.conf" }] } });
        // The sink's Service listens on 80, as a URI without a port expects.
        var deadline = DateTime.UtcNow.AddMinutes(3);
        foreach (var name in new[] { "pg", "sink" })
        {
            while ((await _client.AppsV1.ReadNamespacedDeploymentAsync(name, _namespace)).Status?.ReadyReplicas is not >= 1)
            {
                Assert.True(DateTime.UtcNow < deadline, $"The {name} Deployment did not become ready within 3 minutes.");
                await Task.Delay(1000);
            }
        }
    }

    private async Task RunAsync(string name, int port, V1Container container, V1Volume volume)
    {
        var labels = new Dictionary<string, string> { ["app"] = name };
        await _client!.AppsV1.CreateNamespacedDeploymentAsync(new V1Deployment
        {
            Metadata = new V1ObjectMeta { Name = name },
            Spec = new V1DeploymentSpec
            {
                Selector = new V1LabelSelector { MatchLabels = labels },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = labels },
                    Spec = new V1PodSpec { Containers = [container], Volumes = [volume] },
                },
            },
        }, _namespace);
        await _client.CoreV1.CreateNamespacedServiceAsync(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = name },
            Spec = new V1ServiceSpec
            {
                Selector = labels,
                Ports = [new V1ServicePort { Port = name == "sink" ? 80 : port, TargetPort = port }],
            },
        }, _namespace);
    }

    /// <summary>Runs a psql query in a Job; true when it printed "t".</summary>
    private async Task<bool> CheckAsync(string name, string sql)
    {
        await _client!.BatchV1.CreateNamespacedJobAsync(new V1Job
        {
            Metadata = new V1ObjectMeta { Name = "check-" + name },
            Spec = new V1JobSpec
            {
                BackoffLimit = 0,
                Template = new V1PodTemplateSpec
                {
                    Spec = new V1PodSpec
                    {
                        RestartPolicy = "Never",
                        Containers =
                        [
                            new V1Container
                            {
                                Name = "psql",
                                Image = Image("PGSOURCE_TEST_POSTGRES_IMAGE", "postgres:16"),
                                Command = ["sh", "-c", "test \"$(psql -h pg -U postgres -tAc \"$CHECK\")\" = t"],
                                Env = [new V1EnvVar { Name = "CHECK", Value = sql }, new V1EnvVar { Name = "PGPASSWORD", Value = Password }],
                            },
                        ],
                    },
                },
            },
        }, _namespace);
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            var status = (await _client.BatchV1.ReadNamespacedJobAsync("check-" + name, _namespace)).Status;
            if (status?.Succeeded is >= 1)
            {
                return true;
            }
            if (status?.Failed is >= 1)
            {
                return false;
            }
            Assert.True(DateTime.UtcNow < deadline, $"The check Job {name} did not finish within 2 minutes.");
            await Task.Delay(1000);
        }
    }
}
