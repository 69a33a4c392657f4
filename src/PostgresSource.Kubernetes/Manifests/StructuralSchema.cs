using System.Text.Json;
using System.Text.Json.Nodes;
using PostgresSource.Kubernetes;

namespace PostgresSource.Kubernetes.Manifests;

/// <summary>
/// A small validator for the subset of OpenAPI v3 that structural CRD schemas use here: type, properties,
/// required, enum, items, additionalProperties, x-kubernetes-preserve-unknown-fields, x-kubernetes-int-or-string,
/// nullable, minItems, minLength, minimum, maximum. Unlike the API server it reports unknown fields instead of pruning them, so
/// "validates" means "the server keeps every field as written".
/// </summary>
internal static class StructuralSchema
{
    /// <summary>Errors (path: problem) for a whole resource; root metadata is left to the server (ObjectMeta).</summary>
    public static List<string> Validate(JsonNode? resource, JsonObject schema)
    {
        var errors = new List<string>();
        ValidateNode(resource, schema, string.Empty, errors, isRoot: true);
        return errors;
    }

    /// <summary>Ways the schema itself is not structural (every node typed, no properties beside additionalProperties, ...).</summary>
    public static List<string> StructuralErrors(JsonObject schema)
    {
        var errors = new List<string>();
        if (JsonTree.GetString(schema, "type") != "object")
        {
            errors.Add("(root): the root must be of type object");
        }
        CheckStructure(schema, "(root)", errors);
        return errors;
    }

    private static void CheckStructure(JsonObject schema, string path, List<string> errors)
    {
        var type = JsonTree.GetString(schema, "type");
        var preserve = Flag(schema, "x-kubernetes-preserve-unknown-fields");
        var intOrString = Flag(schema, "x-kubernetes-int-or-string");
        if (string.IsNullOrEmpty(type) && !preserve && !intOrString)
        {
            errors.Add($"{path}: no type");
        }
        if (type is not (null or "object" or "array" or "string" or "integer" or "number" or "boolean"))
        {
            errors.Add($"{path}: unknown type '{type}'");
        }
        if (schema["properties"] is JsonObject && schema["additionalProperties"] is JsonObject)
        {
            errors.Add($"{path}: properties and additionalProperties together");
        }
        if (type == "array" && schema["items"] is not JsonObject)
        {
            errors.Add($"{path}: an array without items");
        }
        foreach (var forbidden in new[] { "$ref", "definitions", "dependencies", "patternProperties", "additionalItems", "uniqueItems" })
        {
            if (schema.ContainsKey(forbidden))
            {
                errors.Add($"{path}: '{forbidden}' is not allowed in a structural schema");
            }
        }
        if (schema["properties"] is JsonObject properties)
        {
            foreach (var (key, child) in properties)
            {
                if (child is JsonObject childSchema)
                {
                    CheckStructure(childSchema, $"{path}.{key}", errors);
                }
            }
        }
        if (schema["items"] is JsonObject items)
        {
            CheckStructure(items, $"{path}[]", errors);
        }
        if (schema["additionalProperties"] is JsonObject additional)
        {
            CheckStructure(additional, $"{path}.*", errors);
        }
    }

    private static void ValidateNode(JsonNode? value, JsonObject schema, string path, List<string> errors, bool isRoot = false)
    {
        var where = path.Length == 0 ? "(root)" : path;
        if (value is null)
        {
            if (!Flag(schema, "nullable"))
            {
                errors.Add($"{where}: null is not allowed");
            }
            return;
        }

        if (Flag(schema, "x-kubernetes-int-or-string"))
        {
            if (!IsInteger(value) && !IsString(value))
            {
                errors.Add($"{where}: must be an integer or a string");
            }
            return;
        }

        var type = JsonTree.GetString(schema, "type");
        var typeOk = type switch
        {
            "object" => value is JsonObject,
            "array" => value is JsonArray,
            "string" => IsString(value),
            "integer" => IsInteger(value),
            "number" => value is JsonValue v && v.GetValueKind() == JsonValueKind.Number,
            "boolean" => value is JsonValue b && b.GetValueKind() is JsonValueKind.True or JsonValueKind.False,
            _ => true,
        };
        if (!typeOk)
        {
            errors.Add($"{where}: must be of type {type}, not {Describe(value)}");
            return;
        }

        if (schema["enum"] is JsonArray allowed && !allowed.Any(a => JsonTree.DeepEquals(a, value)))
        {
            errors.Add($"{where}: {ManifestYaml.Compact(value)} is not one of {ManifestYaml.Compact(allowed)}");
        }
        if (JsonTree.GetInt64(schema, "minLength") is { } minLength && IsString(value) && value.GetValue<string>().Length < minLength)
        {
            errors.Add($"{where}: must be at least {minLength} characters long");
        }

        if (Number(value) is { } number)
        {
            if (Number(schema["minimum"]) is { } minimum && number < minimum)
            {
                errors.Add($"{where}: must be at least {minimum.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
            }
            if (Number(schema["maximum"]) is { } maximum && number > maximum)
            {
                errors.Add($"{where}: must be at most {maximum.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
            }
        }

        if (value is JsonObject map)
        {
            if (schema["required"] is JsonArray required)
            {
                foreach (var key in required.Select(r => r?.GetValue<string>()).Where(k => k is not null))
                {
                    if (!map.ContainsKey(key!))
                    {
                        errors.Add($"{(path.Length == 0 ? key : $"{path}.{key}")}: is required");
                    }
                }
            }
            var properties = schema["properties"] as JsonObject;
            foreach (var (key, child) in map)
            {
                var childPath = path.Length == 0 ? key : $"{path}.{key}";
                if (isRoot && key == "metadata")
                {
                    if (child is not JsonObject)
                    {
                        errors.Add($"{childPath}: must be of type object");
                    }
                    continue;
                }
                if (properties is not null && properties[key] is JsonObject childSchema)
                {
                    ValidateNode(child, childSchema, childPath, errors);
                }
                else if (schema["additionalProperties"] is JsonObject additional)
                {
                    ValidateNode(child, additional, childPath, errors);
                }
                else if (schema["additionalProperties"] is JsonValue allow && allow.GetValueKind() == JsonValueKind.True)
                {
                    continue;
                }
                else if (!Flag(schema, "x-kubernetes-preserve-unknown-fields"))
                {
                    errors.Add($"{childPath}: unknown field (the API server would drop it)");
                }
            }
        }
        else if (value is JsonArray list)
        {
            if (JsonTree.GetInt64(schema, "minItems") is { } minItems && list.Count < minItems)
            {
                errors.Add($"{where}: needs at least {minItems} item(s)");
            }
            if (schema["items"] is JsonObject itemSchema)
            {
                for (var i = 0; i < list.Count; i++)
                {
                    ValidateNode(list[i], itemSchema, $"{path}[{i}]", errors);
                }
            }
        }
    }

    private static bool Flag(JsonObject schema, string name) =>
        schema[name] is JsonValue value && value.GetValueKind() == JsonValueKind.True;

    private static decimal? Number(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.Number &&
        decimal.TryParse(value.ToJsonString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var number)
            ? number
            : null;

    private static bool IsString(JsonNode node) => node is JsonValue value && value.GetValueKind() == JsonValueKind.String;

    private static bool IsInteger(JsonNode node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.Number &&
        decimal.TryParse(value.ToJsonString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var number) &&
        decimal.Truncate(number) == number;

    private static string Describe(JsonNode node) => node switch
    {
        JsonObject => "an object",
        JsonArray => "an array",
        JsonValue value => value.GetValueKind() switch
        {
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            _ => "null",
        },
        _ => "null",
    };
}
