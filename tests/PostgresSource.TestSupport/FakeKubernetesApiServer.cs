using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PostgresSource.TestSupport;

/// <summary>
/// An in-process stand-in for a Kubernetes API server (HttpListener on 127.0.0.1): a small in-memory object
/// store that answers the paths KubernetesClient uses (core /api/v1, /apis/{group}/{version}, namespaced and
/// cluster-scoped, list with label selectors, the status subresource, discovery) the way the API server does
/// (201/200, 404 Status with details, 409 conflicts, 401/403). Every request is recorded and checked: a PATCH
/// must be server-side apply (application/apply-patch+yaml, fieldManager=postgressource, force given) with a
/// body whose apiVersion, kind, name and namespace match the path; anything else is a protocol violation.
/// </summary>
public sealed partial class FakeKubernetesApiServer : IDisposable
{
    public const string Token = "fake-token";

    /// <summary>Bearer tokens the server accepts; a second token tells a second client's requests apart.</summary>
    public HashSet<string> AcceptedTokens { get; } = [Token, Token + "-2"];
    public const string FieldManager = "postgressource";

    private readonly HttpListener _listener = new();
    private readonly object _gate = new();
    private readonly Dictionary<string, JsonObject> _store = new(StringComparer.Ordinal);
    private readonly List<RecordedRequest> _requests = [];
    private readonly List<string> _violations = [];
    private readonly Dictionary<(string Group, string Version, string Plural), ResourceInfo> _builtIn = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _resourceVersion = 1000;

    public FakeKubernetesApiServer()
    {
        Register("", "v1", "serviceaccounts", "ServiceAccount", true);
        Register("", "v1", "services", "Service", true);
        Register("", "v1", "secrets", "Secret", true);
        Register("", "v1", "configmaps", "ConfigMap", true);
        Register("apps", "v1", "deployments", "Deployment", true);
        Register("batch", "v1", "jobs", "Job", true);
        Register("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true);
        Register("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false);
        Register("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false);
        Register("rbac.authorization.k8s.io", "v1", "roles", "Role", true);
        Register("", "v1", "namespaces", "Namespace", false);
        Register("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false);
        Register("eventing.knative.dev", "v1", "brokers", "Broker", true);
        Register("", "v1", "pods", "Pod", true);
        Register("coordination.k8s.io", "v1", "leases", "Lease", true);
        Register("events.k8s.io", "v1", "events", "Event", true);

        var port = FreePort();
        Url = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add(Url + "/");
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    public string Url { get; }

    /// <summary>What the fake's Jobs do once created.</summary>
    public JobOutcome Jobs { get; set; } = JobOutcome.Succeed;

    /// <summary>Answers a request before the store does (failure injection); null lets it through.</summary>
    public Func<RecordedRequest, FakeResponse?>? Intercept { get; set; }

    /// <summary>(plural, name) pairs whose applies conflict with another field manager unless forced.</summary>
    public HashSet<(string Plural, string Name)> Conflicts { get; } = [];

    public IReadOnlyList<RecordedRequest> Requests { get { lock (_gate) { return _requests.ToList(); } } }

    public IReadOnlyList<RecordedRequest> Writes => Requests.Where(r => r.Method != "GET").ToList();

    public IReadOnlyList<string> Violations { get { lock (_gate) { return _violations.ToList(); } } }

    public void ClearRequests()
    {
        lock (_gate)
        {
            _requests.Clear();
        }
    }

    public enum JobOutcome { Succeed, Fail, Hang }

    public sealed record RecordedRequest(string Method, string Path, IReadOnlyDictionary<string, string> Query, string? ContentType, string? Body, string? Authorization)
    {
        public JsonObject? Json => Body is null ? null : JsonNode.Parse(Body) as JsonObject;

        public bool IsStatus => Path.EndsWith("/status", StringComparison.Ordinal);

        public override string ToString() => $"{Method} {Path}{(Query.Count == 0 ? string.Empty : "?" + string.Join("&", Query.Select(q => q.Key + "=" + q.Value)))}";
    }

    public sealed record FakeResponse(int Code, JsonObject Body);

    private sealed record ResourceInfo(string Group, string Version, string Plural, string Kind, bool Namespaced, bool HasStatus);

    private void Register(string group, string version, string plural, string kind, bool namespaced) =>
        _builtIn[(group, version, plural)] = new ResourceInfo(group, version, plural, kind, namespaced, plural is "deployments" or "jobs" or "customresourcedefinitions" or "brokers");

    // ---- test helpers ----------------------------------------------------------------------------------------

    /// <summary>Puts an object into the store as if someone had created it (apiVersion and kind required).</summary>
    public JsonObject Seed(JsonObject item)
    {
        lock (_gate)
        {
            var info = InfoFor(item) ?? throw new InvalidOperationException("Unknown kind " + item["kind"]);
            var copy = (JsonObject)item.DeepClone();
            var metadata = copy["metadata"] as JsonObject ?? throw new InvalidOperationException("metadata missing");
            metadata["uid"] ??= Guid.NewGuid().ToString();
            metadata["resourceVersion"] = NextVersion();
            metadata["generation"] ??= 1;
            metadata["creationTimestamp"] ??= "2026-01-01T00:00:00Z";
            Put(Key(info, info.Namespaced ? (string?)metadata["namespace"] ?? "default" : null, (string)metadata["name"]!), copy);
            return (JsonObject)copy.DeepClone();
        }
    }

    public JsonObject? Find(string group, string plural, string? @namespace, string name)
    {
        lock (_gate)
        {
            var info = Resolve(group, null, plural);
            return info is not null && _store.TryGetValue(Key(info, @namespace, name), out var item) ? (JsonObject)item.DeepClone() : null;
        }
    }

    public IReadOnlyList<JsonObject> All(string group, string plural)
    {
        lock (_gate)
        {
            var info = Resolve(group, null, plural);
            return info is null ? [] : _store.Where(p => p.Key.StartsWith(info.Group + "|" + info.Plural + "|", StringComparison.Ordinal))
                .Select(p => (JsonObject)p.Value.DeepClone()).ToList();
        }
    }

    /// <summary>Sets an object's status, as a controller would (for example a Deployment becoming available).</summary>
    public void SetStatus(string group, string plural, string? @namespace, string name, JsonObject status)
    {
        lock (_gate)
        {
            var info = Resolve(group, null, plural)!;
            var key = Key(info, @namespace, name);
            var item = (JsonObject)_store[key].DeepClone();
            item["status"] = status.DeepClone();
            ((JsonObject)item["metadata"]!)["resourceVersion"] = NextVersion();
            Put(key, item);
        }
    }

    /// <summary>A kubeconfig that points at this server (contexts "fake" in default and "shop" in shop).</summary>
    public string WriteKubeconfig(string directory, string token = Token, string currentContext = "fake")
    {
        var path = Path.Combine(directory, $"kubeconfig-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: fake
              cluster:
                server: {Url}
            contexts:
            - name: fake
              context:
                cluster: fake
                user: fake
                namespace: default
            - name: shop
              context:
                cluster: fake
                user: fake
                namespace: shop
            current-context: {currentContext}
            users:
            - name: fake
              user:
                token: {token}
            """);
        return path;
    }

    /// <summary>A Status object as the API server sends it.</summary>
    public static JsonObject Status(int code, string reason, string message, JsonObject? details = null) => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = "Failure",
        ["message"] = message,
        ["reason"] = reason,
        ["details"] = details ?? new JsonObject(),
        ["code"] = code,
    };

    public static FakeResponse Forbidden(string verb, string resource, string group, string? @namespace, string? name) =>
        new(403, Status(403, "Forbidden",
            $"{(group.Length == 0 ? resource : resource + "." + group)}{(name is null ? string.Empty : $" \"{name}\"")} is forbidden: User \"system:serviceaccount:ci:deployer\" cannot {verb} resource \"{resource}\" in API group \"{group}\"" +
            (@namespace is null ? " at the cluster scope" : $" in the namespace \"{@namespace}\""),
            new JsonObject { ["name"] = name, ["group"] = group, ["kind"] = resource }));

    // ---- serving ---------------------------------------------------------------------------------------------

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (HttpListenerException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            // Each request on its own task: a watch stream stays open while other requests are answered.
            _ = Task.Run(() => HandleSafelyAsync(context));
        }
    }

    private async Task HandleSafelyAsync(HttpListenerContext context)
    {
        try
        {
            await HandleAsync(context).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            lock (_gate)
            {
                _violations.Add("fake server error: " + ex);
            }
            try
            {
                context.Response.StatusCode = 500;
                context.Response.Close();
            }
            catch (Exception)
            {
                // the client went away
            }
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var request = context.Request;
        string? body = null;
        if (request.HasEntityBody)
        {
            using var reader = new StreamReader(request.InputStream, Encoding.UTF8);
            body = await reader.ReadToEndAsync().ConfigureAwait(false);
        }
        var query = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in request.QueryString.AllKeys.Where(k => k is not null))
        {
            query[key!] = request.QueryString[key] ?? string.Empty;
        }
        var recorded = new RecordedRequest(request.HttpMethod, request.Url!.AbsolutePath, query, request.ContentType, body, request.Headers["Authorization"]);

        FakeResponse? response;
        lock (_gate)
        {
            _requests.Add(recorded);
            response = recorded.Authorization is not { } authorization || !authorization.StartsWith("Bearer ", StringComparison.Ordinal) || !AcceptedTokens.Contains(authorization["Bearer ".Length..])
                ? new FakeResponse(401, Status(401, "Unauthorized", "Unauthorized"))
                : Intercept?.Invoke(recorded) ?? (IsWatch(recorded) || IsPodProxy(recorded) ? null : Handle(recorded));
        }
        if (response is null)
        {
            await (IsPodProxy(recorded) ? ServePodProxyAsync(context, recorded) : ServeWatchAsync(context, recorded)).ConfigureAwait(false);
            return;
        }

        var bytes = Encoding.UTF8.GetBytes(response.Body.ToJsonString());
        context.Response.StatusCode = response.Code;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength64 = bytes.Length;
        await context.Response.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
        context.Response.Close();
    }

    private FakeResponse Handle(RecordedRequest request)
    {
        if (request.Path.Trim('/') == "apis")
        {
            return new FakeResponse(200, GroupList());
        }
        if (ParseRoute(request) is not { } route)
        {
            return NotServed(request);
        }
        var (info, @namespace, name, subresource, allNamespaces) = route;
        return (request.Method, name) switch
        {
            ("GET", null) => List(info, @namespace, request.Query.GetValueOrDefault("labelSelector"), allNamespaces),
            ("GET", _) => Get(info, @namespace, name),
            ("PATCH", not null) => Apply(request, info, @namespace, name, subresource),
            ("POST", null) => Create(request, info, @namespace),
            ("PUT", not null) => Replace(request, info, @namespace, name),
            ("DELETE", not null) => Delete(info, @namespace, name),
            _ => Violation(request, $"{request.Method} {request.Path} is not something cluster sync should send"),
        };
    }

    private sealed record Route(ResourceInfo Info, string? Namespace, string? Name, string? Subresource, bool AllNamespaces);

    /// <summary>The resource a path names, or null when the server does not serve it.</summary>
    private Route? ParseRoute(RecordedRequest request)
    {
        var segments = request.Path.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        string group, version;
        int rest;
        if (segments.Length >= 2 && segments[0] == "api")
        {
            (group, version, rest) = (string.Empty, segments[1], 2);
        }
        else if (segments.Length >= 3 && segments[0] == "apis")
        {
            (group, version, rest) = (segments[1], segments[2], 3);
        }
        else
        {
            return null;
        }

        string? @namespace = null;
        // "namespaces/{name}" alone is a Namespace object; with more after it, the namespace of what follows.
        if (segments.Length > rest + 2 && segments[rest] == "namespaces")
        {
            @namespace = segments[rest + 1];
            rest += 2;
        }
        if (segments.Length <= rest)
        {
            return null;
        }
        var plural = segments[rest];
        var name = segments.Length > rest + 1 ? segments[rest + 1] : null;
        var subresource = segments.Length > rest + 2 ? segments[rest + 2] : null;
        var info = Resolve(group, version, plural);
        // A namespaced collection may be read across all namespaces (no namespace in the path).
        var allNamespaces = info is not null && info.Namespaced && @namespace is null && name is null && request.Method == "GET";
        if (info is null || (info.Namespaced != (@namespace is not null) && !allNamespaces) || (subresource is not null && (subresource != "status" || !info.HasStatus)))
        {
            return null;
        }
        return new Route(info, @namespace, name, subresource, allNamespaces);
    }

    private FakeResponse Get(ResourceInfo info, string? @namespace, string name) =>
        _store.TryGetValue(Key(info, @namespace, name), out var item)
            ? new FakeResponse(200, (JsonObject)item.DeepClone())
            : NotFound(info, name);

    private FakeResponse List(ResourceInfo info, string? @namespace, string? selector, bool allNamespaces = false)
    {
        var prefix = info.Group + "|" + info.Plural + "|" + (allNamespaces ? string.Empty : (@namespace ?? string.Empty) + "|");
        var items = _store.Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal))
            .Select(p => p.Value)
            .Where(item => Matches(item, selector))
            .OrderBy(item => (string?)item["metadata"]!["namespace"], StringComparer.Ordinal)
            .ThenBy(item => (string?)item["metadata"]!["name"], StringComparer.Ordinal)
            .Select(item => (JsonNode)item.DeepClone())
            .ToArray();
        return new FakeResponse(200, new JsonObject
        {
            ["apiVersion"] = info.Group.Length == 0 ? info.Version : info.Group + "/" + info.Version,
            ["kind"] = info.Kind + "List",
            ["metadata"] = new JsonObject { ["resourceVersion"] = _resourceVersion.ToString(CultureInfo.InvariantCulture) },
            ["items"] = new JsonArray(items),
        });
    }

    private FakeResponse Apply(RecordedRequest request, ResourceInfo info, string? @namespace, string name, string? subresource)
    {
        if (request.ContentType is not null && request.ContentType.StartsWith("application/merge-patch+json", StringComparison.Ordinal) && subresource is null)
        {
            return MergeFinalizers(request, info, @namespace, name);
        }
        if (request.ContentType is null || !request.ContentType.StartsWith("application/apply-patch+yaml", StringComparison.Ordinal))
        {
            return Violation(request, $"PATCH with content type '{request.ContentType}', not application/apply-patch+yaml", 415);
        }
        if (request.Query.GetValueOrDefault("fieldManager") != FieldManager)
        {
            return Violation(request, $"PATCH without fieldManager={FieldManager}");
        }
        if (!request.Query.TryGetValue("force", out var forceText))
        {
            return Violation(request, "PATCH without an explicit force parameter");
        }
        if (request.Query.ContainsKey("dryRun"))
        {
            return Violation(request, "PATCH with dryRun: cluster sync must not send writes it does not mean");
        }
        JsonObject? body;
        try
        {
            body = JsonNode.Parse(request.Body ?? string.Empty) as JsonObject;
        }
        catch (JsonException)
        {
            body = null;
        }
        if (body is null)
        {
            return Violation(request, "PATCH body is not a JSON object");
        }
        var apiVersion = info.Group.Length == 0 ? info.Version : info.Group + "/" + info.Version;
        var problems = new List<string>();
        if ((string?)body["apiVersion"] != apiVersion) problems.Add($"apiVersion {body["apiVersion"]} != {apiVersion}");
        if ((string?)body["kind"] != info.Kind) problems.Add($"kind {body["kind"]} != {info.Kind}");
        if ((string?)body["metadata"]?["name"] != name) problems.Add($"metadata.name {body["metadata"]?["name"]} != {name}");
        var bodyNamespace = (string?)body["metadata"]?["namespace"];
        if (info.Namespaced ? bodyNamespace != @namespace : bodyNamespace is not null) problems.Add($"metadata.namespace {bodyNamespace} does not match the path");
        if (subresource == "status")
        {
            var extra = body.Select(p => p.Key).Except(["apiVersion", "kind", "metadata", "status"]).ToList();
            if (extra.Count > 0) problems.Add("a status apply carries " + string.Join(", ", extra));
            if (body["status"] is not JsonObject) problems.Add("a status apply without status");
        }
        else if (body.ContainsKey("status"))
        {
            problems.Add("the main resource apply carries status (the status subresource is the place)");
        }
        if (problems.Count > 0)
        {
            return Violation(request, string.Join("; ", problems));
        }

        var key = Key(info, @namespace, name);
        _store.TryGetValue(key, out var existing);
        var force = forceText == "true";
        if (!force && subresource is null && Conflicts.Contains((info.Plural, name)) && existing is not null)
        {
            return new FakeResponse(409, Status(409, "Conflict",
                $"Apply failed with 1 conflict: conflict with \"kubectl-edit\" using {apiVersion}: .spec.replicas",
                new JsonObject { ["name"] = name, ["group"] = info.Group, ["kind"] = info.Plural, ["causes"] = new JsonArray(new JsonObject { ["reason"] = "FieldManagerConflict", ["message"] = "conflict with \"kubectl-edit\" using " + apiVersion, ["field"] = ".spec.replicas" }) }));
        }

        if (subresource == "status")
        {
            if (existing is null)
            {
                return NotFound(info, name);
            }
            var updated = (JsonObject)existing.DeepClone();
            updated["status"] = body["status"]!.DeepClone();
            SetManagedFields(updated, body, "status");
            if (!SameContent(existing, updated))
            {
                ((JsonObject)updated["metadata"]!)["resourceVersion"] = NextVersion();
            }
            Put(key, updated);
            return new FakeResponse(200, (JsonObject)updated.DeepClone());
        }

        if (existing is null)
        {
            var created = (JsonObject)body.DeepClone();
            var metadata = (JsonObject)created["metadata"]!;
            metadata["uid"] = Guid.NewGuid().ToString();
            metadata["resourceVersion"] = NextVersion();
            metadata["generation"] = 1;
            metadata["creationTimestamp"] = "2026-01-01T00:00:00Z";
            SetManagedFields(created, body, null);
            Created(info, created);
            Put(key, created);
            return new FakeResponse(201, (JsonObject)created.DeepClone());
        }

        var next = (JsonObject)body.DeepClone();
        var nextMetadata = (JsonObject)next["metadata"]!;
        var oldMetadata = (JsonObject)existing["metadata"]!;
        foreach (var system in new[] { "uid", "creationTimestamp", "generation", "resourceVersion", "managedFields", "finalizers", "deletionTimestamp" })
        {
            if (oldMetadata[system] is { } value)
            {
                nextMetadata[system] = value.DeepClone();
            }
        }
        if (existing["status"] is { } status)
        {
            next["status"] = status.DeepClone();
        }
        SetManagedFields(next, body, null);
        if (!JsonNode.DeepEquals(existing["spec"], next["spec"]))
        {
            nextMetadata["generation"] = NextGeneration(oldMetadata);
        }
        if (!SameContent(existing, next))
        {
            nextMetadata["resourceVersion"] = NextVersion();
        }
        Put(key, next);
        return new FakeResponse(200, (JsonObject)next.DeepClone());
    }

    private FakeResponse Delete(ResourceInfo info, string? @namespace, string name)
    {
        var key = Key(info, @namespace, name);
        if (!_store.ContainsKey(key))
        {
            return NotFound(info, name);
        }
        var (removed, uid) = RequestDeletion(key);
        if (!removed)
        {
            // Finalizers hold it: the API answers with the object, now carrying its deletionTimestamp.
            return new FakeResponse(200, (JsonObject)_store[key].DeepClone());
        }
        return new FakeResponse(200, new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Success",
            ["details"] = new JsonObject { ["name"] = name, ["group"] = info.Group, ["kind"] = info.Plural, ["uid"] = uid },
        });
    }

    /// <summary>What the controllers of a real cluster would do right after a create.</summary>
    private void Created(ResourceInfo info, JsonObject created)
    {
        if (info.Plural == "customresourcedefinitions")
        {
            created["status"] = new JsonObject
            {
                ["conditions"] = new JsonArray(
                    new JsonObject { ["type"] = "NamesAccepted", ["status"] = "True", ["reason"] = "NoConflicts" },
                    new JsonObject { ["type"] = "Established", ["status"] = "True", ["reason"] = "InitialNamesAccepted" }),
                ["acceptedNames"] = created["spec"]?["names"]?.DeepClone(),
                ["storedVersions"] = new JsonArray("v1alpha1"),
            };
        }
        else if (info.Plural == "jobs")
        {
            created["status"] = Jobs switch
            {
                JobOutcome.Succeed => new JsonObject
                {
                    ["succeeded"] = 1,
                    ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Complete", ["status"] = "True" }),
                },
                JobOutcome.Fail => new JsonObject
                {
                    ["failed"] = 3,
                    ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Failed", ["status"] = "True", ["reason"] = "BackoffLimitExceeded", ["message"] = "Job has reached the specified backoff limit" }),
                },
                _ => new JsonObject { ["active"] = 1 },
            };
        }
    }

    private void SetManagedFields(JsonObject item, JsonObject body, string? subresource)
    {
        var metadata = (JsonObject)item["metadata"]!;
        var entries = (metadata["managedFields"] as JsonArray)?.OfType<JsonObject>()
            .Where(e => !((string?)e["manager"] == FieldManager && (string?)e["subresource"] == subresource))
            .Select(e => (JsonNode)e.DeepClone()).ToList() ?? [];
        var fields = FieldSet(body, topLevel: true);
        var entry = new JsonObject
        {
            ["manager"] = FieldManager,
            ["operation"] = "Apply",
            ["apiVersion"] = body["apiVersion"]?.DeepClone(),
            ["time"] = "2026-01-01T00:00:00Z",
            ["fieldsType"] = "FieldsV1",
            ["fieldsV1"] = fields,
        };
        if (subresource is not null)
        {
            entry["subresource"] = subresource;
        }
        entries.Add(entry);
        metadata["managedFields"] = new JsonArray(entries.ToArray());
    }

    /// <summary>The fieldsV1 set of an applied body (lists treated as atomic).</summary>
    private static JsonObject FieldSet(JsonObject node, bool topLevel = false)
    {
        var set = new JsonObject();
        foreach (var (key, value) in node)
        {
            if (topLevel && key is "apiVersion" or "kind")
            {
                continue;
            }
            if (value is JsonObject child)
            {
                var nested = FieldSet(child);
                if (topLevel && key == "metadata")
                {
                    nested.Remove("f:name");
                    nested.Remove("f:namespace");
                    if (nested.Count == 0)
                    {
                        continue;
                    }
                }
                set["f:" + key] = nested;
            }
            else
            {
                set["f:" + key] = new JsonObject();
            }
        }
        return set;
    }

    private static bool SameContent(JsonObject left, JsonObject right)
    {
        static JsonObject Strip(JsonObject item)
        {
            var copy = (JsonObject)item.DeepClone();
            var metadata = (JsonObject)copy["metadata"]!;
            metadata.Remove("resourceVersion");
            metadata.Remove("managedFields");
            metadata.Remove("generation");
            return copy;
        }
        return JsonNode.DeepEquals(Strip(left), Strip(right));
    }

    private static bool Matches(JsonObject item, string? selector)
    {
        if (string.IsNullOrEmpty(selector))
        {
            return true;
        }
        var labels = item["metadata"]?["labels"] as JsonObject;
        foreach (var term in selector.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string? Label(string key) => labels is not null && labels.TryGetPropertyValue(key, out var v) ? (string?)v : null;
            if (term.Contains("!="))
            {
                var parts = term.Split("!=", 2);
                if (Label(parts[0]) == parts[1]) return false;
            }
            else if (term.Contains('='))
            {
                var parts = term.Replace("==", "=").Split('=', 2);
                if (Label(parts[0]) != parts[1]) return false;
            }
            else if (term.StartsWith('!'))
            {
                if (Label(term[1..]) is not null) return false;
            }
            else if (Label(term) is null)
            {
                return false;
            }
        }
        return true;
    }

    private JsonObject GroupList()
    {
        var groups = _builtIn.Values.Select(i => (i.Group, i.Version)).Concat(CustomTypes().Select(i => (i.Group, i.Version)))
            .Where(g => g.Group.Length > 0).Distinct()
            .GroupBy(g => g.Group)
            .Select(g => (JsonNode)new JsonObject
            {
                ["name"] = g.Key,
                ["versions"] = new JsonArray(g.Select(v => (JsonNode)new JsonObject { ["groupVersion"] = g.Key + "/" + v.Version, ["version"] = v.Version }).ToArray()),
                ["preferredVersion"] = new JsonObject { ["groupVersion"] = g.Key + "/" + g.First().Version, ["version"] = g.First().Version },
            }).ToArray();
        return new JsonObject { ["kind"] = "APIGroupList", ["apiVersion"] = "v1", ["groups"] = new JsonArray(groups) };
    }

    private ResourceInfo? Resolve(string group, string? version, string plural)
    {
        var builtIn = _builtIn.Values.FirstOrDefault(i => i.Group == group && i.Plural == plural && (version is null || i.Version == version));
        return builtIn ?? CustomTypes().FirstOrDefault(i => i.Group == group && i.Plural == plural && (version is null || i.Version == version));
    }

    private ResourceInfo? InfoFor(JsonObject item)
    {
        var apiVersion = (string?)item["apiVersion"] ?? string.Empty;
        var slash = apiVersion.IndexOf('/');
        var (group, version) = slash < 0 ? (string.Empty, apiVersion) : (apiVersion[..slash], apiVersion[(slash + 1)..]);
        var kind = (string?)item["kind"];
        return _builtIn.Values.Concat(CustomTypes()).FirstOrDefault(i => i.Group == group && i.Version == version && i.Kind == kind);
    }

    /// <summary>Resource types from established CRDs in the store.</summary>
    private IEnumerable<ResourceInfo> CustomTypes()
    {
        foreach (var crd in _store.Where(p => p.Key.StartsWith("apiextensions.k8s.io|customresourcedefinitions|", StringComparison.Ordinal)).Select(p => p.Value))
        {
            var established = (crd["status"]?["conditions"] as JsonArray)?.Any(c => (string?)c?["type"] == "Established" && (string?)c?["status"] == "True") == true;
            if (!established)
            {
                continue;
            }
            var spec = crd["spec"]!;
            var hasStatus = false;
            foreach (var version in (spec["versions"] as JsonArray ?? []).OfType<JsonObject>().Where(v => (bool?)v["served"] == true))
            {
                hasStatus = version["subresources"]?["status"] is not null;
                yield return new ResourceInfo((string)spec["group"]!, (string)version["name"]!, (string)spec["names"]!["plural"]!, (string)spec["names"]!["kind"]!,
                    (string?)spec["scope"] == "Namespaced", hasStatus);
            }
        }
    }

    private FakeResponse NotFound(ResourceInfo info, string name) =>
        new(404, Status(404, "NotFound", $"{(info.Group.Length == 0 ? info.Plural : info.Plural + "." + info.Group)} \"{name}\" not found",
            new JsonObject { ["name"] = name, ["group"] = info.Group, ["kind"] = info.Plural }));

    private static FakeResponse NotServed(RecordedRequest request) =>
        new(404, Status(404, "NotFound", "the server could not find the requested resource"));

    private FakeResponse Violation(RecordedRequest request, string problem, int code = 400)
    {
        _violations.Add($"{request}: {problem}");
        return new FakeResponse(code, Status(code, "BadRequest", problem));
    }

    private string NextVersion() => (++_resourceVersion).ToString(CultureInfo.InvariantCulture);

    // Stored generations are ints or longs depending on who wrote them; the text form reads both.
    private static long NextGeneration(JsonObject metadata) =>
        long.Parse(metadata["generation"]?.ToJsonString() ?? "1", CultureInfo.InvariantCulture) + 1;

    private static string Key(ResourceInfo info, string? @namespace, string name) => $"{info.Group}|{info.Plural}|{@namespace}|{name}";

    private static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    private bool _disposed;

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _stop.Cancel();
        try
        {
            // Close alone: Stop then Close makes the managed listener bind the port again to unbind it, which
            // fails when another test has taken the port meanwhile.
            _listener.Close();
        }
        catch (Exception ex) when (ex is ObjectDisposedException or HttpListenerException)
        {
        }
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        _stop.Dispose();
    }
}
