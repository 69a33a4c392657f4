using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes;

/// <summary>A kind of Kubernetes object and where the API serves it.</summary>
internal sealed record ResourceType(string Group, string Version, string Kind, string Plural, bool Namespaced)
{
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    /// <summary>"deployments.apps", "serviceaccounts": how the API server names a resource in its messages.</summary>
    public string Resource => Group.Length == 0 ? Plural : $"{Plural}.{Group}";

    /// <summary>The request path of the collection or, with a name, of one object.</summary>
    public string PathFor(string? @namespace, string? name = null, string? subresource = null)
    {
        var root = Group.Length == 0 ? $"/api/{Version}" : $"/apis/{Group}/{Version}";
        var path = Namespaced && @namespace is not null ? $"{root}/namespaces/{@namespace}/{Plural}" : $"{root}/{Plural}";
        if (name is not null)
        {
            path += "/" + name;
            if (subresource is not null)
            {
                path += "/" + subresource;
            }
        }
        return path;
    }

    public override string ToString() => Resource;

    public static readonly ResourceType CustomResourceDefinition = new("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false);
    public static readonly ResourceType Namespace = new(string.Empty, "v1", "Namespace", "namespaces", false);
    public static readonly ResourceType ClusterRole = new("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false);
    public static readonly ResourceType ClusterRoleBinding = new("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false);
    public static readonly ResourceType Role = new("rbac.authorization.k8s.io", "v1", "Role", "roles", true);
    public static readonly ResourceType RoleBinding = new("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true);
    public static readonly ResourceType ServiceAccount = new(string.Empty, "v1", "ServiceAccount", "serviceaccounts", true);
    public static readonly ResourceType Service = new(string.Empty, "v1", "Service", "services", true);
    public static readonly ResourceType Secret = new(string.Empty, "v1", "Secret", "secrets", true);
    public static readonly ResourceType Deployment = new("apps", "v1", "Deployment", "deployments", true);
    public static readonly ResourceType Job = new("batch", "v1", "Job", "jobs", true);
    public static readonly ResourceType Pod = new(string.Empty, "v1", "Pod", "pods", true);
    public static readonly ResourceType Lease = new("coordination.k8s.io", "v1", "Lease", "leases", true);
    public static readonly ResourceType Event = new("events.k8s.io", "v1", "Event", "events", true);
    public static readonly ResourceType PostgresSource = new(PgSourceKube.Group, PgSourceKube.Version, PgSourceKube.Kind, PgSourceKube.Plural, true);

    /// <summary>The per-source kinds, in the order they are applied.</summary>
    public static IReadOnlyList<ResourceType> PerSourceKinds { get; } = [ServiceAccount, RoleBinding, Deployment];

    /// <summary>
    /// The resource for an apiVersion and kind that is not one of ours (a sink reference). The plural follows
    /// the convention every Knative type and almost every CRD uses: the lowercase kind plus "s" (or "es"/"ies").
    /// </summary>
    public static ResourceType ForReference(string apiVersion, string kind)
    {
        var slash = apiVersion.IndexOf('/');
        var (group, version) = slash < 0 ? (string.Empty, apiVersion) : (apiVersion[..slash], apiVersion[(slash + 1)..]);
        var lower = kind.ToLowerInvariant();
        var plural = lower switch
        {
            _ when lower.EndsWith('s') || lower.EndsWith('x') || lower.EndsWith("ch", StringComparison.Ordinal) || lower.EndsWith("sh", StringComparison.Ordinal) => lower + "es",
            _ when lower.EndsWith('y') && lower.Length > 1 && !"aeiou".Contains(lower[^2]) => lower[..^1] + "ies",
            _ => lower + "s",
        };
        return new ResourceType(group, version, kind, plural, true);
    }
}
