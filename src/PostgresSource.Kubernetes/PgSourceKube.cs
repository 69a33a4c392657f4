using System.Reflection;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes;

/// <summary>
/// The fixed names of what this product puts in a cluster: the custom resource, the field manager,
/// the labels that find a source's objects again, and the adapter contract (port, endpoints).
/// </summary>
internal static class PgSourceKube
{
    public const string Group = SourceManifestReader.Group;
    public const string Version = "v1alpha1";
    public const string ApiVersion = SourceManifestReader.ApiVersion;
    public const string Kind = SourceManifestReader.Kind;
    public const string Plural = "postgressources";
    public const string Singular = "postgressource";
    public const string CrdName = Plural + "." + Group;

    /// <summary>The server-side apply field manager every write uses.</summary>
    public const string FieldManager = "postgressource";

    /// <summary>The controller's own writes (finalizers, Leases, Events); objects and status use <see cref="FieldManager"/>, as cluster sync does.</summary>
    public const string ControllerFieldManager = "postgressource-controller";

    /// <summary>The finalizer the seed's Go controller used too, so a seed resource being deleted is cleaned up the same way.</summary>
    public const string Finalizer = Plural + "." + Group;

    /// <summary>The ClusterRole every source's RoleBinding points at: read ConfigMaps (logging and observability config).</summary>
    public const string AdapterClusterRole = "postgressource-adapter";

    /// <summary>The controller's namespace (its Lease lives there): what deploy/controller.yaml installs into.</summary>
    public const string ControllerNamespace = "postgressource-system";

    /// <summary>The controller's Deployment, ServiceAccount, roles and Lease share this name.</summary>
    public const string ControllerName = "postgressource-controller";

    public const string ControllerComponent = "controller";

    public const string ContainerName = "receive-adapter";
    public const int HttpPort = 8080;
    public const string LivenessPath = "/healthz";
    public const string ReadinessPath = "/readyz";
    public const string MetricsPath = "/metrics";

    /// <summary>The Secret key holding the connection string, as in the seed.</summary>
    public const string ConnectionSecretKey = "connectionstr";

    public const string DefaultEventType = "dev.vaikas.postgres";

    // Labels. The two "managed-by" and "postgressource" labels are what -Prune selects on.
    public const string ManagedByLabel = "app.kubernetes.io/managed-by";
    public const string ManagedByValue = "postgressource";
    public const string SourceLabel = Group + "/postgressource";
    public const string NameLabel = "app.kubernetes.io/name";
    public const string InstanceLabel = "app.kubernetes.io/instance";
    public const string ComponentLabel = "app.kubernetes.io/component";
    public const string PartOfLabel = "app.kubernetes.io/part-of";
    public const string AdapterComponent = "receive-adapter";
    public const string UninstallComponent = "uninstall";
    public const string KnativeSourceLabel = "eventing.knative.dev/source";
    public const string EventTypesAnnotation = "registry.knative.dev/eventTypes";

    /// <summary>Selects every per-source object of one source (by its label value) that this product manages.</summary>
    public static string SelectorFor(string sourceLabelValue) => $"{SourceLabel}={sourceLabelValue},{ManagedByLabel}={ManagedByValue}";

    /// <summary>Selects every per-source object this product manages.</summary>
    public static string ManagedSelector => $"{SourceLabel},{ManagedByLabel}={ManagedByValue}";

    /// <summary>The product version (from the core assembly), without build metadata.</summary>
    public static string ProductVersion { get; } = ReadVersion();

    /// <summary>The adapter image used when none is given: ghcr.io/postgressource/adapter:&lt;product version&gt;.</summary>
    public static string DefaultImage { get; } = "ghcr.io/postgressource/adapter:" + ProductVersion;

    /// <summary>The controller image used when none is given: ghcr.io/postgressource/controller:&lt;product version&gt;.</summary>
    public static string DefaultControllerImage { get; } = "ghcr.io/postgressource/controller:" + ProductVersion;

    private static string ReadVersion()
    {
        var informational = typeof(PgSourceKube).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        var version = informational ?? typeof(PgSourceKube).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
        var plus = version.IndexOf('+');
        return plus < 0 ? version : version[..plus];
    }
}
