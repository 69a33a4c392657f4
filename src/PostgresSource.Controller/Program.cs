using System.Runtime.InteropServices;
using PostgresSource.Core.Hosting;
using PostgresSource.Kubernetes;
using PostgresSource.Kubernetes.Controller;

namespace PostgresSource.Controller;

/// <summary>
/// The controller process: reads its arguments, connects (kubeconfig or the pod's service account), serves
/// /healthz, /readyz and /metrics, and runs <see cref="ControllerHost"/> until SIGTERM or SIGINT, when it finishes
/// the reconciles in hand and hands the Lease back. Logs are JSON lines on stdout.
/// </summary>
internal static class Program
{
    private const int ExitFailure = 1;
    private const int ExitConfiguration = 2;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] is "-h" or "--help" or "help")
        {
            Console.Out.WriteLine(ControllerArguments.Usage);
            return 0;
        }
        ControllerArguments arguments;
        Kubeconfig.Loaded connection;
        try
        {
            arguments = ControllerArguments.Parse(args, Environment.GetEnvironmentVariable);
            connection = Kubeconfig.Load(arguments.Kubeconfig, arguments.Context);
        }
        catch (Exception ex) when (ex is ControllerArgumentException or KubeconfigException)
        {
            Console.Error.WriteLine($"pgsource-controller: {ex.Message}");
            return ExitConfiguration;
        }

        var log = new JsonLog(Console.Out);
        using var stopping = new CancellationTokenSource();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            if (!stopping.IsCancellationRequested)
            {
                log.Info("stopping: finishing the reconciles in hand", ("signal", context.Signal.ToString()));
                stopping.Cancel();
            }
        }

        // Outside the cluster pod IPs are usually not routable; the API server's pod proxy is.
        var options = arguments.Options with { AdapterRoute = arguments.Route ?? (connection.InCluster ? AdapterRoute.PodIp : AdapterRoute.ApiServerProxy) };
        log.Info("starting", ("cluster", connection.Origin), ("context", connection.Context), ("server", connection.Configuration.Host),
            ("namespaces", options.Namespaces.Count == 0 ? "all" : string.Join(",", options.Namespaces)), ("identity", options.Identity),
            ("lease", $"{options.LeaseNamespace}/{options.LeaseName}"), ("adapterImage", options.AdapterImage), ("adapterRoute", options.AdapterRoute.ToString()), ("httpPort", arguments.HttpPort),
            ("version", typeof(Program).Assembly.GetName().Version?.ToString(3)));
        try
        {
            var api = new KubernetesClusterApi(connection.Configuration);
            using var http = new HttpClient { Timeout = options.StateTimeout };
            var host = new ControllerHost(api, options, http, () => DateTimeOffset.UtcNow, log);
            await using var health = arguments.HttpPort == 0 ? null : new HealthServer(arguments.HttpPort, new Dictionary<string, Func<HealthAnswer>>
            {
                ["/readyz"] = () => host.Ready ? HealthAnswer.Ok(host.Elector.IsLeader ? "ready: leading\n" : "ready: standing by\n") : HealthAnswer.Unavailable("not ready: listing PostgresSources\n"),
                ["/metrics"] = () => new(200, HealthAnswer.Prometheus, host.RenderMetrics()),
            }, log);
            await host.RunAsync(stopping.Token).ConfigureAwait(false);
            log.Info("stopped", ("reconciles", host.Metrics.Reconciles), ("errors", host.Metrics.ReconcileErrors));
            return 0;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            log.Error("the controller failed and cannot recover", ("error", ex.Message));
            return ExitFailure;
        }
    }
}
