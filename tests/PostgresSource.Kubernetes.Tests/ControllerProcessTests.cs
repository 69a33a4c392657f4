using System.Net;
using PostgresSource.Kubernetes.Manifests;
using PostgresSource.TestSupport;

namespace PostgresSource.Kubernetes.Tests;

/// <summary>
/// The built pgsource-controller program, started as a user starts it (a kubeconfig, flags), against the fake API
/// server: create → objects and status, spec change → the Deployment rolls, Broker address change → K_SINK follows;
/// its /readyz and /metrics answer, two processes elect one leader, and SIGTERM hands the Lease back and exits 0.
/// </summary>
public sealed class ControllerProcessTests : IAsyncLifetime
{
    private readonly ControllerHarness _harness = new();
    private readonly string _directory = Directory.CreateTempSubdirectory("pgsource-controller-process-").FullName;
    private readonly List<ControllerProcess> _processes = [];

    private FakeKubernetesApiServer Server => _harness.Server;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await process.DisposeAsync();
        }
        await _harness.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private ControllerProcess Start(string identity, string token = FakeKubernetesApiServer.Token)
    {
        var kubeconfig = Server.WriteKubeconfig(Directory.CreateDirectory(Path.Combine(_directory, identity)).FullName, token);
        var process = ControllerProcess.Start("--kubeconfig", kubeconfig, "--identity", identity, "--resync-seconds", "1", "--lease-seconds", "3",
            "--adapter-image", "example.test/pgsource-adapter:process");
        _processes.Add(process);
        return process;
    }

    private static async Task WaitFor(Func<Task<bool>> condition, string what, ControllerProcess process, double seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline || process.HasExited)
            {
                throw new TimeoutException($"Waited {seconds} s for: {what} (exited: {process.HasExited})\n{process.Output}");
            }
            await Task.Delay(50);
        }
    }

    private static Task WaitFor(Func<bool> condition, string what, ControllerProcess process, double seconds = 30) =>
        WaitFor(() => Task.FromResult(condition()), what, process, seconds);

    private static async Task<bool> LeadsAsync(ControllerProcess process) =>
        await process.GetAsync("/metrics") is { } metrics && Samples(metrics.Body).GetValueOrDefault("pgsource_controller_leader") == "1";

    /// <summary>The Prometheus text's samples by name (comments skipped: a HELP text may contain anything).</summary>
    private static Dictionary<string, string> Samples(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(line => !line.StartsWith('#'))
            .Select(line => line.Split(' ', 2)).ToDictionary(parts => parts[0], parts => parts[1], StringComparer.Ordinal);

    [Fact]
    public async Task TheProgramCreatesRollsFollowsTheBrokerAndStopsCleanlyOnSigterm()
    {
        var controller = Start("process-a");
        await WaitFor(async () => (await controller.GetAsync("/readyz"))?.Status == HttpStatusCode.OK, "/readyz answers 200", controller);
        Assert.Equal(HttpStatusCode.OK, (await controller.GetAsync("/healthz"))?.Status);

        Server.Seed(ControllerHarness.Broker());
        Server.UserApply(ControllerHarness.Resource());
        await WaitFor(() => _harness.Deployment() is not null, "the adapter Deployment", controller);
        var first = _harness.Deployment()!;
        Assert.Equal(ControllerHarness.BrokerUrl, ControllerHarness.Env(first, "K_SINK"));
        Assert.Contains("example.test/pgsource-adapter:process", first["spec"]!["template"]!.ToJsonString(), StringComparison.Ordinal);
        _harness.AdapterRuns();
        await WaitFor(() => ControllerHarness.Condition(_harness.Find(), "Ready") == "True", "Ready True", controller);
        Assert.Equal(1, JsonTree.GetInt64(_harness.Find(), "status", "observedGeneration"));
        // Started with a kubeconfig, it asks the adapter through the API server's pod proxy (pod IPs may not route).
        Assert.Contains(Server.Requests, r => r.Path.EndsWith("/proxy/state", StringComparison.Ordinal));

        // kubectl apply with another table: the Deployment's pod template changes.
        Server.UserApply(ControllerHarness.Resource("public.orders", "public.invoices"));
        await WaitFor(() => JsonTree.GetInt64(_harness.Find(), "status", "observedGeneration") == 2, "observedGeneration 2", controller);
        await WaitFor(() => _harness.Deployment()!["spec"]!["template"]!.ToJsonString().Contains("invoices", StringComparison.Ordinal), "the Deployment rolled", controller);
        var rolled = _harness.Deployment()!;
        Assert.NotEqual(first["spec"]!["template"]!.ToJsonString(), rolled["spec"]!["template"]!.ToJsonString());
        Assert.Contains("invoices", rolled["spec"]!["template"]!.ToJsonString(), StringComparison.Ordinal);

        // The Broker moves: the resync re-resolves it, and K_SINK and status.sinkUri follow.
        const string moved = "http://broker-ingress.knative-eventing.svc.cluster.local/default/moved";
        Server.SetStatus("eventing.knative.dev", "brokers", "default", "default", new() { ["address"] = new System.Text.Json.Nodes.JsonObject { ["url"] = moved } });
        await WaitFor(() => ControllerHarness.Env(_harness.Deployment(), "K_SINK") == moved, "K_SINK follows the Broker", controller);
        await WaitFor(() => JsonTree.GetString(_harness.Find(), "status", "sinkUri") == moved, "status.sinkUri follows", controller);

        var metrics = (await controller.GetAsync("/metrics"))!.Value;
        Assert.Equal(HttpStatusCode.OK, metrics.Status);
        var samples = Samples(metrics.Body);
        Assert.Equal("1", samples["pgsource_controller_leader"]);
        Assert.Equal("1", samples["pgsource_controller_sources"]);
        Assert.Equal("0", samples["pgsource_controller_reconcile_errors_total"]);
        Assert.True(long.Parse(samples["pgsource_controller_reconciles_total"], System.Globalization.CultureInfo.InvariantCulture) >= 3, metrics.Body);

        Assert.Equal(0, await controller.TerminateAsync(TimeSpan.FromSeconds(15)));
        var lease = Server.Find("coordination.k8s.io", "leases", "postgressource-system", "postgressource-controller");
        Assert.Equal(string.Empty, JsonTree.GetString(lease, "spec", "holderIdentity") ?? string.Empty);
        Assert.True(Server.Violations.Count == 0, string.Join("\n", Server.Violations));
    }

    [Fact]
    public async Task TwoProcessesElectOneLeaderAndTheOtherTakesOverAfterSigterm()
    {
        var a = Start("process-a");
        await WaitFor(() => LeadsAsync(a), "process-a leads", a);
        var b = Start("process-b", FakeKubernetesApiServer.Token + "-2");
        await WaitFor(async () => (await b.GetAsync("/readyz"))?.Status == HttpStatusCode.OK, "process-b is ready (standing by)", b);
        Assert.False(await LeadsAsync(b));

        Server.Seed(ControllerHarness.Broker());
        Server.UserApply(ControllerHarness.Resource());
        await WaitFor(() => _harness.Deployment() is not null, "the adapter Deployment", a);
        var writers = Server.Requests.Where(r => r.Method != "GET" && !r.Path.Contains("/leases", StringComparison.Ordinal))
            .Select(r => r.Authorization).Distinct().ToList();
        Assert.Equal(["Bearer " + FakeKubernetesApiServer.Token], writers);

        Assert.Equal(0, await a.TerminateAsync(TimeSpan.FromSeconds(15)));
        await WaitFor(() => LeadsAsync(b), "process-b takes over", b, 10);
        Server.UserApply(ControllerHarness.Resource("public.orders", "public.invoices"));
        await WaitFor(() => JsonTree.GetInt64(_harness.Find(), "status", "observedGeneration") == 2, "process-b reconciles the change", b);
    }

    [Theory]
    [InlineData("--namespace", "Bad_Namespace", "'Bad_Namespace' is not a namespace name")]
    [InlineData("--adapter-route", "carrier-pigeon", "--adapter-route is pod-ip or api-proxy")]
    [InlineData("--workers", "0", "--workers")]
    [InlineData("--frobnicate", "1", "Unknown argument '--frobnicate'")]
    public async Task BadArgumentsExitWithTwoAndNameTheArgument(string name, string value, string message)
    {
        await using var process = ControllerProcess.Start("--kubeconfig", Server.WriteKubeconfig(_directory, FakeKubernetesApiServer.Token), name, value);
        Assert.Equal(2, await process.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(message, process.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(Server.Requests, r => r.Method != "GET");
    }
}
