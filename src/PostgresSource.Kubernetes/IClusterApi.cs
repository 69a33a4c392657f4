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

    /// <summary>Server-side apply (PATCH, application/apply-patch+yaml, fieldManager=postgressource).</summary>
    Task<JsonObject> ApplyAsync(ResourceType type, JsonObject body, bool force, CancellationToken cancellationToken);

    /// <summary>Server-side apply of the status subresource.</summary>
    Task<JsonObject> ApplyStatusAsync(ResourceType type, JsonObject body, CancellationToken cancellationToken);

    /// <summary>Deletes an object; false when it was already gone.</summary>
    Task<bool> DeleteAsync(ResourceType type, string? @namespace, string name, bool foreground, CancellationToken cancellationToken);

    /// <summary>Every API group the server serves, with its preferred version.</summary>
    Task<IReadOnlyDictionary<string, string>> GetPreferredVersionsAsync(CancellationToken cancellationToken);
}
