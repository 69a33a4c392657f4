using System.Net;
using System.Text.Json.Nodes;
using PostgresSource.Core.Diagnostics;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes;

/// <summary>A cluster operation that failed. The message names the verb, the resource and the object.</summary>
internal class ClusterException(string message, Exception? inner = null) : Exception(message, inner), IHasRemedy
{
    /// <summary>"patch deployments.apps \"x\" in namespace default": what was being done.</summary>
    public string? Operation { get; init; }

    public Remedy Remedy { get; init; }
}

/// <summary>The API server could not be reached (connection refused, DNS, TLS, timeout).</summary>
internal sealed class ClusterUnreachableException(string message, Exception? inner = null) : ClusterException(message, inner);

/// <summary>The API server answered with an error status.</summary>
internal sealed class ClusterRequestException(string message, HttpStatusCode statusCode, string? reason, JsonObject? status, Exception? inner = null)
    : ClusterException(message, inner)
{
    public HttpStatusCode StatusCode { get; } = statusCode;

    /// <summary>The Status object's reason (Forbidden, Conflict, NotFound, Invalid, ...).</summary>
    public string? Reason { get; } = reason;

    /// <summary>The Status object the server sent, when it sent one.</summary>
    public JsonObject? Status { get; } = status;

    public string Verb { get; init; } = string.Empty;
    public string Resource { get; init; } = string.Empty;
    public string? ObjectName { get; init; }
    public string? Namespace { get; init; }

    /// <summary>A 404 for the resource type itself (an apiVersion or kind the server does not serve), not for one object.</summary>
    public bool IsResourceTypeMissing => StatusCode == HttpStatusCode.NotFound &&
        (Status is null || JsonTree.GetString(Status, "details", "name") is null);
}

/// <summary>A sink reference that does not resolve to a URL.</summary>
internal sealed class SinkResolutionException(string message, Exception? inner = null) : ClusterException(message, inner);

/// <summary>No usable kubeconfig, or the context asked for is not in it.</summary>
internal sealed class KubeconfigException(string message, Exception? inner = null) : Exception(message, inner), IHasRemedy
{
    public Remedy Remedy => Remedy.ChooseKubeconfig;
}

/// <summary>The uninstall Job of a pruned source failed or did not finish in time.</summary>
internal sealed class UninstallJobException(string message) : ClusterException(message);

/// <summary>The watch's resource version is too old for the server (410 Gone): the caller lists again.</summary>
internal sealed class WatchExpiredException(string message) : ClusterException(message);
