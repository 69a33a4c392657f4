using System.Globalization;
using PostgresSource.Core.Sources;
using PostgresSource.Kubernetes.Controller;

namespace PostgresSource.Controller;

/// <summary>A bad command line or environment: the message names the argument or variable.</summary>
internal sealed class ControllerArgumentException(string message) : Exception(message);

/// <summary>
/// The controller's command line, with environment fallbacks for a pod: POD_NAME (the Lease identity),
/// POD_NAMESPACE (the Lease's namespace), PGSOURCE_WATCH_NAMESPACES (comma-separated), PGSOURCE_ADAPTER_IMAGE.
/// </summary>
internal sealed record ControllerArguments(string? Kubeconfig, string? Context, int HttpPort, ControllerOptions Options, AdapterRoute? Route)
{
    public const string Usage = """
        pgsource-controller: reconciles PostgresSource resources (one leader at a time).

        Usage: pgsource-controller [options]
          --kubeconfig PATH        kubeconfig to use (default: KUBECONFIG, ~/.kube/config, else the pod's service account)
          --context NAME           kubeconfig context (default: its current-context)
          --namespace NS           a namespace to watch; repeatable or comma-separated (default: every namespace;
                                   env PGSOURCE_WATCH_NAMESPACES)
          --lease-namespace NS     where the leader-election Lease lives (default: env POD_NAMESPACE, else postgressource-system)
          --lease-name NAME        the Lease's name (default: postgressource-controller)
          --identity NAME          this replica's name in the Lease (default: env POD_NAME, else host name and a random suffix)
          --adapter-image IMAGE    the image of the per-source adapter Deployments (env PGSOURCE_ADAPTER_IMAGE)
          --adapter-route ROUTE    how GET /state reaches an adapter pod: pod-ip, or api-proxy (through the API server,
                                   needs "get pods/proxy"); default: pod-ip in the cluster, api-proxy with a kubeconfig
          --http-port PORT         /healthz, /readyz and /metrics (default: 8080; 0 turns them off)
          --resync-seconds N       every source is reconciled again this often (default: 30)
          --workers N              reconciles at once (default: 4)
          --lease-seconds N        how long the Lease holds without renewal (default: 15)
          -h, --help               this text

        Exit codes: 0 stopped by SIGTERM/SIGINT; 1 failed at run time; 2 bad arguments or no usable kubeconfig.
        """;

    public static ControllerArguments Parse(IReadOnlyList<string> args, Func<string, string?> environment)
    {
        string? kubeconfig = null, context = null, leaseNamespace = null, identity = null, leaseName = null;
        var image = Blank(environment("PGSOURCE_ADAPTER_IMAGE"));
        var namespaces = new List<string>();
        int port = 8080, resync = 30, workers = 4, lease = 15;
        AdapterRoute? route = null;
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal)
                ? args[++i]
                : throw new ControllerArgumentException($"{name} needs a value.");
            switch (name)
            {
                case "--kubeconfig": kubeconfig = Value(); break;
                case "--context": context = Value(); break;
                case "--namespace": namespaces.AddRange(List(Value())); break;
                case "--lease-namespace": leaseNamespace = Value(); break;
                case "--lease-name": leaseName = Value(); break;
                case "--identity": identity = Value(); break;
                case "--adapter-image": image = Value(); break;
                case "--adapter-route": route = ParseRoute(Value()); break;
                case "--http-port": port = Number(name, Value(), 0, 65535); break;
                case "--resync-seconds": resync = Number(name, Value(), 1, 86400); break;
                case "--workers": workers = Number(name, Value(), 1, 64); break;
                case "--lease-seconds": lease = Number(name, Value(), 3, 3600); break;
                default: throw new ControllerArgumentException($"Unknown argument '{name}'; see --help.");
            }
        }
        if (namespaces.Count == 0 && Blank(environment("PGSOURCE_WATCH_NAMESPACES")) is { } fromEnvironment)
        {
            namespaces.AddRange(List(fromEnvironment));
        }
        foreach (var ns in namespaces.Append(leaseNamespace).OfType<string>())
        {
            if (!SourceDefinition.IsNamespaceName(ns))
            {
                throw new ControllerArgumentException($"'{ns}' is not a namespace name (lower-case letters, digits and '-', at most 63).");
            }
        }
        var defaults = new ControllerOptions();
        var leaseDuration = TimeSpan.FromSeconds(lease);
        return new ControllerArguments(Blank(kubeconfig), Blank(context), port, defaults with
        {
            Namespaces = namespaces.Distinct(StringComparer.Ordinal).ToList(),
            AdapterImage = image ?? defaults.AdapterImage,
            Identity = Blank(identity) ?? Blank(environment("POD_NAME")) ?? defaults.Identity,
            LeaseNamespace = leaseNamespace ?? Blank(environment("POD_NAMESPACE")) ?? ControllerOptions.DefaultNamespace,
            LeaseName = Blank(leaseName) ?? defaults.LeaseName,
            LeaseDuration = leaseDuration,
            RenewInterval = leaseDuration / 3,
            RetryInterval = leaseDuration / 6,
            ResyncInterval = TimeSpan.FromSeconds(resync),
            Workers = workers,
        }, route);
    }

    private static AdapterRoute ParseRoute(string value) => value switch
    {
        "pod-ip" => AdapterRoute.PodIp,
        "api-proxy" => AdapterRoute.ApiServerProxy,
        _ => throw new ControllerArgumentException($"--adapter-route is pod-ip or api-proxy, not '{value}'."),
    };

    private static IEnumerable<string> List(string value) =>
        value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static int Number(string name, string value, int min, int max) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number >= min && number <= max
            ? number
            : throw new ControllerArgumentException($"{name} must be a whole number from {min} to {max}; got '{value}'.");
}
