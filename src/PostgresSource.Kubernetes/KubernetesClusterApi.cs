using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using PostgresSource.Core.Diagnostics;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes;

/// <summary>
/// <see cref="IClusterApi"/> over KubernetesClient: core/v1 kinds through the typed CoreV1 operations, every
/// other group through the generic object operations (same paths), writes as server-side apply.
/// </summary>
internal sealed class KubernetesClusterApi : IClusterApi
{
    private readonly IKubernetes _client;

    public KubernetesClusterApi(KubernetesClientConfiguration configuration)
    {
        Server = configuration.Host ?? "(unknown server)";
        DefaultNamespace = string.IsNullOrEmpty(configuration.Namespace) ? "default" : configuration.Namespace;
        _client = new k8s.Kubernetes(configuration, new PostgresSource.Core.Diagnostics.KubernetesRequestTrace()) { HttpClientTimeout = TimeSpan.FromSeconds(60) };
    }

    public static KubernetesClusterApi Connect(string? kubeconfigPath, string? context) =>
        new(Kubeconfig.Load(kubeconfigPath, context).Configuration);

    /// <summary>
    /// Connects as <see cref="Kubeconfig.Load"/> finds, and says how ("https://... from ~/.kube/config, context x").
    /// Callers outside the core's load context use this overload: it exposes no KubernetesClient type.
    /// </summary>
    public static IClusterApi Connect(string? kubeconfigPath, string? context, out string description)
    {
        var loaded = Kubeconfig.Load(kubeconfigPath, context);
        description = $"{loaded.Configuration.Host} from {loaded.Origin}" + (loaded.Context is null ? string.Empty : $", context {loaded.Context}");
        return new KubernetesClusterApi(loaded.Configuration);
    }

    public string Server { get; }

    public string DefaultNamespace { get; }

    public Task<JsonObject?> GetAsync(ResourceType type, string? @namespace, string name, CancellationToken cancellationToken) =>
        Call("get", type, @namespace, name, async () =>
        {
            try
            {
                object result = type switch
                {
                    { Group: "", Kind: "ServiceAccount" } => await _client.CoreV1.ReadNamespacedServiceAccountAsync(name, @namespace, cancellationToken: cancellationToken).ConfigureAwait(false),
                    { Group: "", Kind: "Service" } => await _client.CoreV1.ReadNamespacedServiceAsync(name, @namespace, cancellationToken: cancellationToken).ConfigureAwait(false),
                    { Group: "", Kind: "Namespace" } => await _client.CoreV1.ReadNamespaceAsync(name, cancellationToken: cancellationToken).ConfigureAwait(false),
                    { Group: "" } => throw Unsupported(type),
                    { Namespaced: true } => await _client.CustomObjects.GetNamespacedCustomObjectAsync(type.Group, type.Version, @namespace, type.Plural, name, cancellationToken).ConfigureAwait(false),
                    _ => await _client.CustomObjects.GetClusterCustomObjectAsync(type.Group, type.Version, type.Plural, name, cancellationToken).ConfigureAwait(false),
                };
                return (JsonObject?)JsonTree.ToJson(result);
            }
            catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound && IsObjectNotFound(ex, name))
            {
                return null;
            }
        });

    public async Task<IReadOnlyList<JsonObject>> ListAsync(ResourceType type, string? @namespace, string labelSelector, CancellationToken cancellationToken) =>
        (await ListWithVersionAsync(type, @namespace, labelSelector, cancellationToken).ConfigureAwait(false)).Items;

    public Task<ObjectList> ListWithVersionAsync(ResourceType type, string? @namespace, string? labelSelector, CancellationToken cancellationToken) =>
        Call("list", type, @namespace, null, async () =>
        {
            object result = type switch
            {
                { Group: "", Kind: "ServiceAccount" } => await _client.CoreV1.ListNamespacedServiceAccountAsync(@namespace, labelSelector: labelSelector, cancellationToken: cancellationToken).ConfigureAwait(false),
                { Group: "", Kind: "Pod" } => await _client.CoreV1.ListNamespacedPodAsync(@namespace, labelSelector: labelSelector, cancellationToken: cancellationToken).ConfigureAwait(false),
                { Group: "" } => throw Unsupported(type),
                { Namespaced: true } when @namespace is not null => await _client.CustomObjects.ListNamespacedCustomObjectAsync(type.Group, type.Version, @namespace, type.Plural, labelSelector: labelSelector, cancellationToken: cancellationToken).ConfigureAwait(false),
                // Cluster-scoped kinds, and namespaced kinds across every namespace: the same path shape.
                _ => await _client.CustomObjects.ListClusterCustomObjectAsync(type.Group, type.Version, type.Plural, labelSelector: labelSelector, cancellationToken: cancellationToken).ConfigureAwait(false),
            };
            var list = JsonTree.ToJson(result);
            var items = (list["items"] as JsonArray ?? []).OfType<JsonObject>().Select(item => (JsonObject)item.DeepClone()).ToList();
            return new ObjectList(items, JsonTree.GetString(list, "metadata", "resourceVersion") ?? string.Empty);
        });

    public async IAsyncEnumerable<WatchEvent> WatchAsync(ResourceType type, string? @namespace, string resourceVersion, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (type.Group.Length == 0)
        {
            throw Unsupported(type);
        }
        Exception? streamError = null;
        IAsyncEnumerable<(WatchEventType, object)> stream = (@namespace, type.Namespaced) switch
        {
            (null, false) => _client.CustomObjects.WatchListClusterCustomObjectAsync(type.Group, type.Version, type.Plural,
                allowWatchBookmarks: true, resourceVersion: resourceVersion, timeoutSeconds: WatchTimeoutSeconds, onError: ex => streamError ??= ex, cancellationToken: cancellationToken),
            (null, true) => _client.CustomObjects.WatchListCustomObjectForAllNamespacesAsync(type.Group, type.Version, type.Plural,
                allowWatchBookmarks: true, resourceVersion: resourceVersion, timeoutSeconds: WatchTimeoutSeconds, onError: ex => streamError ??= ex, cancellationToken: cancellationToken),
            _ => _client.CustomObjects.WatchListNamespacedCustomObjectAsync(type.Group, type.Version, @namespace, type.Plural,
                allowWatchBookmarks: true, resourceVersion: resourceVersion, timeoutSeconds: WatchTimeoutSeconds, onError: ex => streamError ??= ex, cancellationToken: cancellationToken),
        };
        var events = stream.GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                (WatchEventType Type, object Object) next;
                try
                {
                    if (!await events.MoveNextAsync().ConfigureAwait(false))
                    {
                        break;
                    }
                    next = events.Current;
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    throw WatchFailure(type, @namespace, ex);
                }
                if (JsonTree.ToJson(next.Object) is { } item)
                {
                    yield return new WatchEvent(next.Type.ToString().ToUpperInvariant(), item);
                }
            }
        }
        finally
        {
            await events.DisposeAsync().ConfigureAwait(false);
        }
        if (streamError is not null)
        {
            throw WatchFailure(type, @namespace, streamError);
        }
    }

    /// <summary>How long one watch request lasts before the controller opens the next (the API server's own limit is similar).</summary>
    private const int WatchTimeoutSeconds = 300;

    private Exception WatchFailure(ResourceType type, string? @namespace, Exception error)
    {
        var where = type.Resource + (@namespace is null ? " in every namespace" : " in namespace " + @namespace);
        return error switch
        {
            KubernetesException { Status.Code: 410 } or HttpOperationException { Response.StatusCode: HttpStatusCode.Gone } =>
                new WatchExpiredException($"The watch of {where} is too old for the API server (410 Gone); listing again."),
            HttpOperationException http => ClusterErrors.FromResponse(http.Response.StatusCode, http.Response.ReasonPhrase, ParseStatus(http.Response.Content), "watch", type, @namespace, null, Server, http),
            KubernetesException kube => new ClusterException($"The watch of {where} ended with an error: {kube.Status?.Message ?? kube.Message}", kube),
            HttpRequestException or SocketException or IOException or AuthenticationException => ClusterErrors.Unreachable(Server, error),
            _ => new ClusterException($"The watch of {where} failed: {error.Message}", error),
        };
    }

    public Task<JsonObject> CreateAsync(ResourceType type, JsonObject body, CancellationToken cancellationToken)
    {
        var (name, @namespace) = NameOf(body);
        return Call("create", type, @namespace, name, async () =>
        {
            object result = type switch
            {
                { Group: "" } => throw Unsupported(type),
                { Namespaced: true } => await _client.CustomObjects.CreateNamespacedCustomObjectAsync(body, type.Group, type.Version, @namespace, type.Plural, fieldManager: PgSourceKube.ControllerFieldManager, cancellationToken: cancellationToken).ConfigureAwait(false),
                _ => await _client.CustomObjects.CreateClusterCustomObjectAsync(body, type.Group, type.Version, type.Plural, fieldManager: PgSourceKube.ControllerFieldManager, cancellationToken: cancellationToken).ConfigureAwait(false),
            };
            return JsonTree.ToJson(result);
        });
    }

    public Task<JsonObject> ReplaceAsync(ResourceType type, JsonObject body, CancellationToken cancellationToken)
    {
        var (name, @namespace) = NameOf(body);
        return Call("update", type, @namespace, name, async () =>
        {
            object result = type switch
            {
                { Group: "" } => throw Unsupported(type),
                { Namespaced: true } => await _client.CustomObjects.ReplaceNamespacedCustomObjectAsync(body, type.Group, type.Version, @namespace, type.Plural, name, fieldManager: PgSourceKube.ControllerFieldManager, cancellationToken: cancellationToken).ConfigureAwait(false),
                _ => await _client.CustomObjects.ReplaceClusterCustomObjectAsync(body, type.Group, type.Version, type.Plural, name, fieldManager: PgSourceKube.ControllerFieldManager, cancellationToken: cancellationToken).ConfigureAwait(false),
            };
            return JsonTree.ToJson(result);
        });
    }

    public Task<JsonObject> SetFinalizersAsync(ResourceType type, string? @namespace, string name, IReadOnlyList<string> finalizers, string resourceVersion, CancellationToken cancellationToken) =>
        Call("patch", type, @namespace, name, async () =>
        {
            var patch = new JsonObject
            {
                ["metadata"] = new JsonObject
                {
                    ["finalizers"] = new JsonArray(finalizers.Select(f => (JsonNode)JsonValue.Create(f)).ToArray()),
                    ["resourceVersion"] = resourceVersion,
                },
            };
            var body = new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch);
            object result = type.Namespaced
                ? await _client.CustomObjects.PatchNamespacedCustomObjectAsync(body, type.Group, type.Version, @namespace, type.Plural, name, fieldManager: PgSourceKube.ControllerFieldManager, cancellationToken: cancellationToken).ConfigureAwait(false)
                : await _client.CustomObjects.PatchClusterCustomObjectAsync(body, type.Group, type.Version, type.Plural, name, fieldManager: PgSourceKube.ControllerFieldManager, cancellationToken: cancellationToken).ConfigureAwait(false);
            return JsonTree.ToJson(result);
        });

    public Task<JsonObject> ApplyAsync(ResourceType type, JsonObject body, bool force, CancellationToken cancellationToken)
    {
        var (name, @namespace) = NameOf(body);
        return Call("patch", type, @namespace, name, async () =>
        {
            var patch = ApplyPatch(body);
            object result = type switch
            {
                { Group: "", Kind: "ServiceAccount" } => await _client.CoreV1.PatchNamespacedServiceAccountAsync(patch, name, @namespace, fieldManager: PgSourceKube.FieldManager, force: force, cancellationToken: cancellationToken).ConfigureAwait(false),
                { Group: "", Kind: "Secret" } => await _client.CoreV1.PatchNamespacedSecretAsync(patch, name, @namespace, fieldManager: PgSourceKube.FieldManager, force: force, cancellationToken: cancellationToken).ConfigureAwait(false),
                { Group: "", Kind: "Namespace" } => await _client.CoreV1.PatchNamespaceAsync(patch, name, fieldManager: PgSourceKube.FieldManager, force: force, cancellationToken: cancellationToken).ConfigureAwait(false),
                { Group: "" } => throw Unsupported(type),
                { Namespaced: true } => await _client.CustomObjects.PatchNamespacedCustomObjectAsync(patch, type.Group, type.Version, @namespace, type.Plural, name, fieldManager: PgSourceKube.FieldManager, force: force, cancellationToken: cancellationToken).ConfigureAwait(false),
                _ => await _client.CustomObjects.PatchClusterCustomObjectAsync(patch, type.Group, type.Version, type.Plural, name, fieldManager: PgSourceKube.FieldManager, force: force, cancellationToken: cancellationToken).ConfigureAwait(false),
            };
            return JsonTree.ToJson(result);
        });
    }

    public Task<JsonObject> ApplyStatusAsync(ResourceType type, JsonObject body, CancellationToken cancellationToken)
    {
        var (name, @namespace) = NameOf(body);
        return Call("patch", type with { Plural = type.Plural + "/status" }, @namespace, name, async () =>
        {
            var patch = ApplyPatch(body);
            object result = type.Namespaced
                ? await _client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(patch, type.Group, type.Version, @namespace, type.Plural, name, fieldManager: PgSourceKube.FieldManager, force: true, cancellationToken: cancellationToken).ConfigureAwait(false)
                : await _client.CustomObjects.PatchClusterCustomObjectStatusAsync(patch, type.Group, type.Version, type.Plural, name, fieldManager: PgSourceKube.FieldManager, force: true, cancellationToken: cancellationToken).ConfigureAwait(false);
            return JsonTree.ToJson(result);
        });
    }

    public Task<bool> DeleteAsync(ResourceType type, string? @namespace, string name, bool foreground, CancellationToken cancellationToken) =>
        Call("delete", type, @namespace, name, async () =>
        {
            var propagation = foreground ? "Foreground" : "Background";
            try
            {
                _ = type switch
                {
                    { Group: "", Kind: "ServiceAccount" } => await _client.CoreV1.DeleteNamespacedServiceAccountAsync(name, @namespace, propagationPolicy: propagation, cancellationToken: cancellationToken).ConfigureAwait(false),
                    { Group: "" } => throw Unsupported(type),
                    { Namespaced: true } => await _client.CustomObjects.DeleteNamespacedCustomObjectAsync(type.Group, type.Version, @namespace, type.Plural, name, propagationPolicy: propagation, cancellationToken: cancellationToken).ConfigureAwait(false),
                    _ => await _client.CustomObjects.DeleteClusterCustomObjectAsync(type.Group, type.Version, type.Plural, name, propagationPolicy: propagation, cancellationToken: cancellationToken).ConfigureAwait(false),
                };
                return true;
            }
            catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound && IsObjectNotFound(ex, name))
            {
                return false;
            }
        });

    public Task<IReadOnlyDictionary<string, string>> GetPreferredVersionsAsync(CancellationToken cancellationToken) =>
        Call("get", new ResourceType(string.Empty, string.Empty, "APIGroupList", "/apis", false), null, null, async () =>
        {
            var groups = await _client.Apis.GetAPIVersionsAsync(cancellationToken).ConfigureAwait(false);
            return (IReadOnlyDictionary<string, string>)(groups.Groups ?? [])
                .Where(g => g.PreferredVersion is not null)
                .ToDictionary(g => g.Name, g => g.PreferredVersion.Version, StringComparer.Ordinal);
        });

    public Task<ProxiedResponse> GetThroughPodProxyAsync(string @namespace, string pod, int port, string path, CancellationToken cancellationToken) =>
        Call("get", ResourceType.Pod, @namespace, pod + "/proxy", async () =>
        {
            try
            {
                using var response = await _client.CoreV1.ConnectGetNamespacedPodProxyWithPathWithHttpMessagesAsync(
                    $"{pod}:{port.ToString(CultureInfo.InvariantCulture)}", @namespace, path.TrimStart('/'), cancellationToken: cancellationToken).ConfigureAwait(false);
                using var reader = new StreamReader(response.Body);
                return new ProxiedResponse((int)response.Response.StatusCode, await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false));
            }
            catch (HttpOperationException ex)
            {
                return new ProxiedResponse((int)ex.Response.StatusCode, ex.Response.Content ?? string.Empty);
            }
        });

    public void Dispose() => _client.Dispose();

    private static V1Patch ApplyPatch(JsonObject body) =>
        // JSON is YAML: the body goes as is, with content type application/apply-patch+yaml.
        new(body.ToJsonString(), V1Patch.PatchType.ApplyPatch);

    private static (string Name, string? Namespace) NameOf(JsonObject body) =>
        (JsonTree.GetString(body, "metadata", "name") ?? throw new ArgumentException("The object has no metadata.name."),
         JsonTree.GetString(body, "metadata", "namespace"));

    private static NotSupportedException Unsupported(ResourceType type) => new($"{type.Resource} is not a kind this module reads or writes.");

    private static bool IsObjectNotFound(HttpOperationException ex, string name)
    {
        var status = ParseStatus(ex.Response.Content);
        return status is not null && JsonTree.GetString(status, "details", "name") == name;
    }

    private async Task<T> Call<T>(string verb, ResourceType type, string? @namespace, string? name, Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (HttpOperationException ex)
        {
            throw ClusterErrors.FromResponse(ex.Response.StatusCode, ex.Response.ReasonPhrase, ParseStatus(ex.Response.Content), verb, type, @namespace, name, Server, ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or SocketException or AuthenticationException or IOException or TaskCanceledException { InnerException: TimeoutException })
        {
            throw ClusterErrors.Unreachable(Server, ex);
        }
        catch (k8s.Exceptions.KubeConfigException ex)
        {
            throw new KubeconfigException("The kubeconfig cannot be used: " + ex.Message, ex);
        }
    }

    private static JsonObject? ParseStatus(string? content)
    {
        if (string.IsNullOrWhiteSpace(content))
        {
            return null;
        }
        try
        {
            return JsonNode.Parse(content) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>Clear messages for API failures: which verb on which resource, and what to do.</summary>
internal static class ClusterErrors
{
    public static ClusterUnreachableException Unreachable(string server, Exception inner) =>
        new($"Cannot reach the Kubernetes API server at {server}: {Innermost(inner).Message} Check the kubeconfig context, the network and that the cluster is running.", inner);

    public static ClusterRequestException FromResponse(HttpStatusCode code, string? reasonPhrase, JsonObject? status, string verb, ResourceType type, string? @namespace, string? name, string server, Exception? inner = null)
    {
        var serverMessage = JsonTree.GetString(status, "message") ?? reasonPhrase ?? code.ToString();
        var reason = JsonTree.GetString(status, "reason");
        var target = type.Resource + (name is null ? string.Empty : $" \"{name}\"") + (@namespace is null ? string.Empty : $" in namespace {@namespace}");
        var numeric = (int)code;
        var message = code switch
        {
            HttpStatusCode.Unauthorized =>
                $"The API server at {server} did not accept the kubeconfig credentials (401 Unauthorized) for: {verb} {target}. The token or client certificate may have expired; logging in again, or another identity, is needed.",
            HttpStatusCode.Forbidden =>
                $"Forbidden (403): the cluster does not allow this user to {verb} {target}. Server said: {serverMessage} It needs RBAC permission to '{verb}' {type.Resource}, or an identity that has it.",
            HttpStatusCode.Conflict =>
                $"Conflict (409) when trying to {verb} {target}: {serverMessage} Another field manager owns these fields: they can be taken over (a forced apply), or changed through that manager.",
            HttpStatusCode.NotFound when status is null || JsonTree.GetString(status, "details", "name") is null =>
                $"The cluster does not serve {type.Resource} ({type.ApiVersion}) (404) for: {verb} {target}. {serverMessage}",
            _ => $"The API server refused to {verb} {target} ({numeric} {reason ?? reasonPhrase}): {serverMessage}",
        };
        return new ClusterRequestException(message, code, reason, status, inner)
        {
            Remedy = code switch
            {
                HttpStatusCode.Unauthorized => Remedy.ClusterLogin,
                HttpStatusCode.Forbidden => Remedy.ClusterPermission,
                HttpStatusCode.Conflict => Remedy.TakeOverFields,
                _ => Remedy.None,
            },
            Verb = verb,
            Resource = type.Resource,
            ObjectName = name,
            Namespace = @namespace,
            Operation = $"{verb} {target}",
        };
    }

    private static Exception Innermost(Exception exception)
    {
        while (exception.InnerException is not null)
        {
            exception = exception.InnerException;
        }
        return exception;
    }
}
