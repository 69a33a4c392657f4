using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using PostgresSource.Kubernetes;

namespace PostgresSource.Kubernetes.Manifests;

/// <summary>
/// JSON helpers for comparing what is wanted with what a cluster has. Comparison follows server-side apply:
/// an apply changes an object when a field it sets differs (or is missing) in the live object, or when the
/// field manager owned a field that the new body no longer sets (it would be removed).
/// </summary>
internal static class JsonTree
{
    /// <summary>A typed client model (or a JsonObject) as a JSON tree, nulls left out.</summary>
    public static JsonObject ToJson(object model) => model switch
    {
        JsonObject json => (JsonObject)json.DeepClone(),
        JsonElement element => JsonNode.Parse(element.GetRawText())!.AsObject(),
        _ => JsonNode.Parse(KubernetesJson.Serialize(model))!.AsObject(),
    };

    public static string? GetString(JsonNode? node, params string[] path) => Get(node, path) is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    public static long? GetInt64(JsonNode? node, params string[] path)
    {
        if (Get(node, path) is not JsonValue value)
        {
            return null;
        }
        if (value.TryGetValue<long>(out var number))
        {
            return number;
        }
        if (value.TryGetValue<int>(out var small))
        {
            return small;
        }
        if (value.TryGetValue<JsonElement>(out var element) && element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out var parsed))
        {
            return parsed;
        }
        return null;
    }

    public static JsonNode? Get(JsonNode? node, params string[] path)
    {
        foreach (var key in path)
        {
            node = node is JsonObject map && map.TryGetPropertyValue(key, out var child) ? child : null;
        }
        return node;
    }

    /// <summary>
    /// Paths (like "spec.template.spec.containers[0].image") where <paramref name="desired"/> sets a value the live
    /// object does not have. Values the server adds (defaults, status, other managers' fields) do not count.
    /// </summary>
    public static List<string> Differences(JsonNode? desired, JsonNode? live, string path = "")
    {
        var differences = new List<string>();
        CollectDifferences(desired, live, path, differences);
        return differences;
    }

    private static void CollectDifferences(JsonNode? desired, JsonNode? live, string path, List<string> differences)
    {
        switch (desired)
        {
            case null:
                if (live is not null)
                {
                    differences.Add(path);
                }
                return;
            case JsonObject desiredMap:
                if (live is not JsonObject liveMap)
                {
                    differences.Add(path);
                    return;
                }
                foreach (var (key, value) in desiredMap)
                {
                    var childPath = path.Length == 0 ? key : $"{path}.{key}";
                    if (!liveMap.TryGetPropertyValue(key, out var liveValue))
                    {
                        differences.Add(childPath);
                        continue;
                    }
                    CollectDifferences(value, liveValue, childPath, differences);
                }
                return;
            case JsonArray desiredList:
                if (live is not JsonArray liveList || liveList.Count != desiredList.Count)
                {
                    differences.Add(path);
                    return;
                }
                for (var i = 0; i < desiredList.Count; i++)
                {
                    CollectDifferences(desiredList[i], liveList[i], $"{path}[{i}]", differences);
                }
                return;
            default:
                if (!ScalarEquals(desired, live))
                {
                    differences.Add(path);
                }
                return;
        }
    }

    /// <summary>True when two trees are equal (object key order ignored, numbers compared by value).</summary>
    public static bool DeepEquals(JsonNode? left, JsonNode? right) => left switch
    {
        null => right is null,
        JsonObject leftMap => right is JsonObject rightMap && leftMap.Count == rightMap.Count &&
            leftMap.All(p => rightMap.TryGetPropertyValue(p.Key, out var other) && DeepEquals(p.Value, other)),
        JsonArray leftList => right is JsonArray rightList && leftList.Count == rightList.Count &&
            leftList.Zip(rightList).All(p => DeepEquals(p.First, p.Second)),
        _ => ScalarEquals(left, right),
    };

    private static bool ScalarEquals(JsonNode? left, JsonNode? right)
    {
        if (left is not JsonValue a || right is not JsonValue b)
        {
            return false;
        }
        var (kindA, kindB) = (a.GetValueKind(), b.GetValueKind());
        if (kindA == JsonValueKind.Number && kindB == JsonValueKind.Number)
        {
            return decimal.Parse(a.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture) ==
                   decimal.Parse(b.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);
        }
        if (kindA != kindB)
        {
            return false;
        }
        return kindA switch
        {
            JsonValueKind.String => a.GetValue<string>() == b.GetValue<string>(),
            _ => a.ToJsonString() == b.ToJsonString(),
        };
    }

    /// <summary>
    /// Fields the manager set on the live object (metadata.managedFields, fieldsV1) that <paramref name="desired"/> no
    /// longer sets: an apply would remove them. <paramref name="subresource"/> is null for the main resource.
    /// </summary>
    public static List<string> RemovedFields(JsonObject live, JsonObject desired, string manager, string? subresource = null)
    {
        var removed = new List<string>();
        if (Get(live, "metadata", "managedFields") is not JsonArray entries)
        {
            return removed;
        }
        foreach (var entry in entries.OfType<JsonObject>())
        {
            if (GetString(entry, "manager") != manager || GetString(entry, "operation") != "Apply" ||
                (GetString(entry, "subresource") ?? string.Empty) != (subresource ?? string.Empty) ||
                Get(entry, "fieldsV1") is not JsonObject fields)
            {
                continue;
            }
            CollectRemoved(fields, desired, string.Empty, removed);
        }
        return removed;
    }

    private static void CollectRemoved(JsonObject fields, JsonNode? desired, string path, List<string> removed)
    {
        foreach (var (key, child) in fields)
        {
            if (key == ".")
            {
                continue;
            }
            if (key.StartsWith("f:", StringComparison.Ordinal))
            {
                var name = key[2..];
                var childPath = path.Length == 0 ? name : $"{path}.{name}";
                if (desired is not JsonObject map || !map.TryGetPropertyValue(name, out var value))
                {
                    removed.Add(childPath);
                }
                else if (child is JsonObject nested && nested.Count > 0)
                {
                    CollectRemoved(nested, value, childPath, removed);
                }
            }
            else if (key.StartsWith("k:", StringComparison.Ordinal))
            {
                // An element of a list keyed by some fields (containers by name, env by name, ...).
                var keyFields = JsonNode.Parse(key[2..]) as JsonObject;
                var match = (desired as JsonArray)?.OfType<JsonObject>().FirstOrDefault(element =>
                    keyFields is not null && keyFields.All(k => element.TryGetPropertyValue(k.Key, out var v) && DeepEquals(v, k.Value)));
                var childPath = $"{path}[{keyFields?.ToJsonString(new JsonSerializerOptions { WriteIndented = false })}]";
                if (match is null)
                {
                    removed.Add(childPath);
                }
                else if (child is JsonObject nested && nested.Count > 0)
                {
                    CollectRemoved(nested, match, childPath, removed);
                }
            }
            else if (key.StartsWith("v:", StringComparison.Ordinal))
            {
                var value = JsonNode.Parse(key[2..]);
                if (desired is not JsonArray list || !list.Any(element => DeepEquals(element, value)))
                {
                    removed.Add($"{path}[{key[2..]}]");
                }
            }
            else if (key.StartsWith("i:", StringComparison.Ordinal) && int.TryParse(key[2..], out var index))
            {
                if (desired is not JsonArray list || index >= list.Count)
                {
                    removed.Add($"{path}[{index}]");
                }
                else if (child is JsonObject nested && nested.Count > 0)
                {
                    CollectRemoved(nested, list[index], $"{path}[{index}]", removed);
                }
            }
        }
    }
}
