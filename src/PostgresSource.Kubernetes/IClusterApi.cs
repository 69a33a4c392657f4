using System.Text.Json.Nodes;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes;

/// <summary>
/// The few Kubernetes API calls cluster sync needs, over JSON trees. The real implementation uses
/// KubernetesClient (<see cref="KubernetesClusterApi"/>); tests can put anything behind it.
/// Failures are <see cref="ClusterException"/>s that name the verb and the resource.
/// </summary>
internal interface IClusterApi : IDisposable
{
    /// <summary>The API server, for messages ("https://127.0.0.1:6443").</summary>
    string Server { get; }

    /// <summary>The namespace the kubeconfig context names (or "default").</summary>
    string DefaultNamespace { get; }

    /// <summary>The object, or null when it does not exist. A resource type the server does not serve is an error.</summary>
    Task<JsonObject?> GetAsync(ResourceType type, string? @namespace, string name, CancellationToken cancellationToken);

    Task<IReadOnlyList<JsonObject>> ListAsync(ResourceType type, string? @namespace, string labelSelector, CancellationToken cancellationToken);

    /// <summary>A list and the resource version to watch from; a null namespace on a namespaced type lists every namespace.</summary>
    Task<ObjectList> ListWithVersionAsync(ResourceType type, string? @namespace, string? labelSelector, CancellationToken cancellationToken);

    /// <summary>
    /// The changes after <paramref name="resourceVersion"/> until the server ends the stream. A version the server no
    /// longer has (410 Gone, after compaction) is a <see cref="WatchExpiredException"/>: list again and watch from there.
    /// </summary>
    IAsyncEnumerable<WatchEvent> WatchAsync(ResourceType type, string? @namespace, string resourceVersion, CancellationToken cancellationToken);

    /// <summary>POST: a new object (Leases, Events); an existing name is a 409 <see cref="ClusterRequestException"/>.</summary>
    Task<JsonObject> CreateAsync(ResourceType type, JsonObject body, CancellationToken cancellationToken);

    /// <summary>PUT with the body's resourceVersion: a 409 <see cref="ClusterRequestException"/> when someone changed it first.</summary>
    Task<JsonObject> ReplaceAsync(ResourceType type, JsonObject body, CancellationToken cancellationToken);

    /// <summary>Sets metadata.finalizers (a merge patch guarded by the resourceVersion it was read at; 409 when stale).</summary>
    Task<JsonObject> SetFinalizersAsync(ResourceType type, string? @namespace, string name, IReadOnlyList<string> finalizers, string resourceVersion, CancellationToken cancellationToken);

    /// <summary>Server-side apply (PATCH, application/apply-patch+yaml, fieldManager=postgressource).</summary>
    Task<JsonObject> ApplyAsync(ResourceType type, JsonObject body, bool force, CancellationToken cancellationToken);

    /// <summary>Server-side apply of the status subresource.</summary>
    Task<JsonObject> ApplyStatusAsync(ResourceType type, JsonObject body, CancellationToken cancellationToken);

    /// <summary>Deletes an object; false when it was already gone.</summary>
    Task<bool> DeleteAsync(ResourceType type, string? @namespace, string name, bool foreground, CancellationToken cancellationToken);

    /// <summary>
    /// GET on a pod's port through the API server (pods/proxy): how a controller running outside the cluster reaches an
    /// adapter whose pod IP it cannot route to. Any HTTP answer is returned, not thrown; only an unreachable API server throws.
    /// </summary>
    Task<ProxiedResponse> GetThroughPodProxyAsync(string @namespace, string pod, int port, string path, CancellationToken cancellationToken);

    /// <summary>Every API group the server serves, with its preferred version.</summary>
    Task<IReadOnlyDictionary<string, string>> GetPreferredVersionsAsync(CancellationToken cancellationToken);
}

/// <summary>What a pod answered through the API server's proxy.</summary>
internal sealed record ProxiedResponse(int StatusCode, string Body)
{
    public bool IsSuccess => StatusCode is >= 200 and < 300;
}

/// <summary>Objects of one list call, and the collection's resource version at that moment.</summary>
internal sealed record ObjectList(IReadOnlyList<JsonObject> Items, string ResourceVersion);

/// <summary>One change from a watch stream: ADDED, MODIFIED, DELETED (or BOOKMARK, which carries only a resource version).</summary>
internal sealed record WatchEvent(string Type, JsonObject Object)
{
    public string? ResourceVersion => JsonTree.GetString(Object, "metadata", "resourceVersion");
}
