using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace PostgresSource.TestSupport;

/// <summary>
/// Object lifecycle as the API server keeps it: every store change goes through <see cref="Put"/> or
/// <see cref="Erase"/> (so watches see it), deletion waits for finalizers, garbage collection follows owner
/// references, create (POST) and replace (PUT) check names and resource versions, and the helpers a test uses to
/// act as a user (kubectl apply, edit, delete).
/// </summary>
public sealed partial class FakeKubernetesApiServer
{
    /// <summary>kubectl apply: creates the object, or replaces its spec, labels and annotations (status and finalizers stay).</summary>
    public JsonObject UserApply(JsonObject item)
    {
        lock (_gate)
        {
            var info = InfoFor(item) ?? throw new InvalidOperationException("Unknown kind " + item["kind"]);
            var metadata = (JsonObject)item["metadata"]!;
            var key = Key(info, info.Namespaced ? (string?)metadata["namespace"] ?? "default" : null, (string)metadata["name"]!);
            if (!_store.ContainsKey(key))
            {
                return Seed(item);
            }
        }
        return Update(item, live =>
        {
            foreach (var field in item.Where(p => p.Key is not ("apiVersion" or "kind" or "metadata" or "status")).Select(p => p.Key).ToList())
            {
                live[field] = item[field]!.DeepClone();
            }
            var liveMetadata = (JsonObject)live["metadata"]!;
            foreach (var field in new[] { "labels", "annotations" })
            {
                if (item["metadata"]?[field] is { } value)
                {
                    liveMetadata[field] = value.DeepClone();
                }
            }
        });
    }

    /// <summary>An edit (kubectl edit, another controller): the generation moves when the spec does.</summary>
    public JsonObject Update(JsonObject identity, Action<JsonObject> edit)
    {
        lock (_gate)
        {
            var info = InfoFor(identity) ?? throw new InvalidOperationException("Unknown kind " + identity["kind"]);
            var metadata = (JsonObject)identity["metadata"]!;
            var key = Key(info, info.Namespaced ? (string?)metadata["namespace"] ?? "default" : null, (string)metadata["name"]!);
            var live = (JsonObject)_store[key].DeepClone();
            edit(live);
            var liveMetadata = (JsonObject)live["metadata"]!;
            if (!JsonNode.DeepEquals(_store[key]["spec"], live["spec"]))
            {
                liveMetadata["generation"] = NextGeneration(liveMetadata);
            }
            if (!SameContent(_store[key], live))
            {
                liveMetadata["resourceVersion"] = NextVersion();
                Put(key, live);
            }
            return (JsonObject)live.DeepClone();
        }
    }

    /// <summary>kubectl delete: gone at once, or marked for deletion while finalizers remain.</summary>
    public bool UserDelete(string group, string plural, string? @namespace, string name)
    {
        lock (_gate)
        {
            var info = Resolve(group, null, plural) ?? throw new InvalidOperationException("Unknown resource " + plural);
            var key = Key(info, @namespace, name);
            return _store.ContainsKey(key) && RequestDeletion(key).Removed;
        }
    }

    /// <summary>Stores a changed object and tells the watches; an object being deleted goes once its finalizers are gone.</summary>
    private void Put(string key, JsonObject item)
    {
        _store.TryGetValue(key, out var existing);
        _store[key] = item;
        if (existing is not null && (string?)existing["metadata"]!["resourceVersion"] == (string?)item["metadata"]!["resourceVersion"])
        {
            return;
        }
        Record(existing is null ? "ADDED" : "MODIFIED", key, item);
        if (item["metadata"]!["deletionTimestamp"] is not null && (item["metadata"]!["finalizers"] as JsonArray ?? []).Count == 0)
        {
            Erase(key);
        }
    }

    /// <summary>Starts deleting: removed now when nothing holds it, else given a deletionTimestamp.</summary>
    private (bool Removed, string? Uid) RequestDeletion(string key)
    {
        var item = _store[key];
        var uid = (string?)item["metadata"]!["uid"];
        if ((item["metadata"]!["finalizers"] as JsonArray ?? []).Count == 0)
        {
            Erase(key);
            return (true, uid);
        }
        if (item["metadata"]!["deletionTimestamp"] is null)
        {
            var marked = (JsonObject)item.DeepClone();
            var metadata = (JsonObject)marked["metadata"]!;
            metadata["deletionTimestamp"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
            metadata["resourceVersion"] = NextVersion();
            Put(key, marked);
        }
        return (false, uid);
    }

    /// <summary>Removes an object, tells the watches, and collects what it owned (garbage collection).</summary>
    private void Erase(string key)
    {
        if (!_store.Remove(key, out var removed))
        {
            return;
        }
        var gone = (JsonObject)removed.DeepClone();
        gone["metadata"]!["resourceVersion"] = NextVersion();
        Record("DELETED", key, gone);
        var uid = (string?)removed["metadata"]!["uid"];
        var owned = _store.Where(p => (p.Value["metadata"]?["ownerReferences"] as JsonArray)?.Any(o => (string?)o?["uid"] == uid) == true).Select(p => p.Key).ToList();
        foreach (var child in owned)
        {
            if (_store.ContainsKey(child))
            {
                RequestDeletion(child);
            }
        }
    }

    /// <summary>
    /// A JSON merge patch of metadata.finalizers with the resourceVersion it was read at (how Knative controllers
    /// add and release finalizers: the whole list, guarded against a concurrent change by 409 Conflict).
    /// </summary>
    private FakeResponse MergeFinalizers(RecordedRequest request, ResourceInfo info, string? @namespace, string name)
    {
        var body = ParseBody(request);
        var metadata = body?["metadata"] as JsonObject;
        var extra = body is null ? ["(no JSON object)"] : body.Select(p => p.Key).Except(["metadata"])
            .Concat((metadata ?? []).Select(p => p.Key).Except(["finalizers", "resourceVersion"]).Select(k => "metadata." + k)).ToList();
        if (extra.Count > 0 || metadata?["resourceVersion"] is null)
        {
            return Violation(request, "a merge patch here changes only metadata.finalizers, guarded by metadata.resourceVersion; it carried " +
                (extra.Count > 0 ? string.Join(", ", extra) : "no resourceVersion"));
        }
        var key = Key(info, @namespace, name);
        if (!_store.TryGetValue(key, out var existing))
        {
            return NotFound(info, name);
        }
        if ((string?)metadata["resourceVersion"] != (string?)existing["metadata"]!["resourceVersion"])
        {
            return new FakeResponse(409, Status(409, "Conflict",
                $"Operation cannot be fulfilled on {Resource(info)} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                new JsonObject { ["name"] = name, ["group"] = info.Group, ["kind"] = info.Plural }));
        }
        var next = (metadata["finalizers"] as JsonArray ?? []).Select(f => (string)f!).Distinct(StringComparer.Ordinal).ToList();
        var current = (existing["metadata"]!["finalizers"] as JsonArray ?? []).Select(f => (string)f!).ToList();
        if (next.SequenceEqual(current))
        {
            return new FakeResponse(200, (JsonObject)existing.DeepClone());
        }
        var updated = (JsonObject)existing.DeepClone();
        var updatedMetadata = (JsonObject)updated["metadata"]!;
        if (next.Count == 0)
        {
            updatedMetadata.Remove("finalizers");
        }
        else
        {
            updatedMetadata["finalizers"] = new JsonArray(next.Select(f => (JsonNode)f).ToArray());
        }
        updatedMetadata["resourceVersion"] = NextVersion();
        Put(key, updated);
        return new FakeResponse(200, (JsonObject)(_store.GetValueOrDefault(key) ?? updated).DeepClone());
    }

    /// <summary>POST: a new object; 409 AlreadyExists when the name is taken.</summary>
    private FakeResponse Create(RecordedRequest request, ResourceInfo info, string? @namespace)
    {
        if (ParseBody(request) is not { } body)
        {
            return Violation(request, "POST body is not a JSON object");
        }
        var metadata = body["metadata"] as JsonObject ?? new JsonObject();
        var name = (string?)metadata["name"] ?? ((string?)metadata["generateName"] is { } prefix ? prefix + Guid.NewGuid().ToString("N")[..5] : null);
        if (name is null)
        {
            return new FakeResponse(422, Status(422, "Invalid", "name or generateName is required"));
        }
        var key = Key(info, @namespace, name);
        if (_store.ContainsKey(key))
        {
            return new FakeResponse(409, Status(409, "AlreadyExists", $"{Resource(info)} \"{name}\" already exists",
                new JsonObject { ["name"] = name, ["group"] = info.Group, ["kind"] = info.Plural }));
        }
        var created = (JsonObject)body.DeepClone();
        var createdMetadata = (JsonObject)created["metadata"]!;
        createdMetadata["name"] = name;
        if (@namespace is not null)
        {
            createdMetadata["namespace"] = @namespace;
        }
        createdMetadata["uid"] = Guid.NewGuid().ToString();
        createdMetadata["resourceVersion"] = NextVersion();
        createdMetadata["generation"] = 1;
        createdMetadata["creationTimestamp"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        Put(key, created);
        return new FakeResponse(201, (JsonObject)created.DeepClone());
    }

    /// <summary>PUT: replaces the object; 409 Conflict when the body's resourceVersion is not the current one.</summary>
    private FakeResponse Replace(RecordedRequest request, ResourceInfo info, string? @namespace, string name)
    {
        if (ParseBody(request) is not { } body || (string?)body["metadata"]?["name"] != name)
        {
            return Violation(request, "PUT body is not a JSON object with the path's name");
        }
        var key = Key(info, @namespace, name);
        if (!_store.TryGetValue(key, out var existing))
        {
            return NotFound(info, name);
        }
        var oldMetadata = (JsonObject)existing["metadata"]!;
        if ((string?)body["metadata"]!["resourceVersion"] is { } version && version != (string?)oldMetadata["resourceVersion"])
        {
            return new FakeResponse(409, Status(409, "Conflict",
                $"Operation cannot be fulfilled on {Resource(info)} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                new JsonObject { ["name"] = name, ["group"] = info.Group, ["kind"] = info.Plural }));
        }
        var next = (JsonObject)body.DeepClone();
        var nextMetadata = (JsonObject)next["metadata"]!;
        foreach (var system in new[] { "uid", "creationTimestamp", "generation", "managedFields", "deletionTimestamp" })
        {
            if (oldMetadata[system] is { } value)
            {
                nextMetadata[system] = value.DeepClone();
            }
        }
        if (!JsonNode.DeepEquals(existing["spec"], next["spec"]))
        {
            nextMetadata["generation"] = NextGeneration(oldMetadata);
        }
        nextMetadata["resourceVersion"] = NextVersion();
        Put(key, next);
        return new FakeResponse(200, (JsonObject)next.DeepClone());
    }

    private static JsonObject? ParseBody(RecordedRequest request)
    {
        try
        {
            return JsonNode.Parse(request.Body ?? string.Empty) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Resource(ResourceInfo info) => info.Group.Length == 0 ? info.Plural : info.Plural + "." + info.Group;
}
