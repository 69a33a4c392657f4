namespace PostgresSource.Kubernetes.Controller;

/// <summary>How the controller runs: what it watches, how often it looks again, and how it elects a leader.</summary>
internal sealed record ControllerOptions
{
    /// <summary>The namespaces whose PostgresSources are reconciled; empty: every namespace.</summary>
    public IReadOnlyList<string> Namespaces { get; init; } = [];

    /// <summary>The adapter image the per-source Deployments run.</summary>
    public string AdapterImage { get; init; } = PgSourceKube.DefaultImage;

    /// <summary>This replica's name in the Lease (the pod name in a cluster).</summary>
    public string Identity { get; init; } = Environment.MachineName + "-" + Guid.NewGuid().ToString("N")[..8];

    public string LeaseNamespace { get; init; } = DefaultNamespace;

    public string LeaseName { get; init; } = PgSourceKube.ControllerName;

    /// <summary>How long a Lease holds without renewal; another replica takes over after it.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>The leader renews this often, and gives up leading when it could not renew for two thirds of the duration.</summary>
    public TimeSpan RenewInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a replica that is not leading tries the Lease again.</summary>
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Every source is reconciled again this often: sink addresses and the adapter's state are read anew.</summary>
    public TimeSpan ResyncInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A failing reconcile is retried after this, doubling up to <see cref="BackoffMax"/>.</summary>
    public TimeSpan BackoffBase { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan BackoffMax { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How often a deletion in progress (adapter stopping, uninstall Job running) is looked at.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>An uninstall Job still running after this is reported as stuck (it keeps running; the finalizer stays).</summary>
    public TimeSpan UninstallTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How long the adapter's GET /state may take.</summary>
    public TimeSpan StateTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>How the adapter's GET /state is reached: the pod IP (in the cluster), or the API server's pod proxy (outside it).</summary>
    public AdapterRoute AdapterRoute { get; init; } = AdapterRoute.PodIp;

    /// <summary>Reconciles that run at once (each source is only ever reconciled by one at a time).</summary>
    public int Workers { get; init; } = 4;

    public const string DefaultNamespace = PgSourceKube.ControllerNamespace;
}

/// <summary>The way to an adapter pod's HTTP port.</summary>
internal enum AdapterRoute
{
    /// <summary>Straight to status.podIP: the controller runs in the cluster's pod network.</summary>
    PodIp,

    /// <summary>Through the API server (pods/proxy; needs "get pods/proxy"): a controller run from a workstation or CI.</summary>
    ApiServerProxy,
}
