using System.Text.Json;

namespace PostgresSource.Core.Events;

/// <summary>
/// Knative's CloudEventOverrides (<c>spec.ceOverrides</c>, the adapter's <c>K_CE_OVERRIDES</c>):
/// <c>{"extensions": {"name": "value"}}</c>. Each extension is set on every event after the source's own
/// attributes, so an override wins over an extension of the same name, as in Knative sources.
/// Values are set verbatim, so one CloudEvents cannot carry (a control character such as a tab or newline,
/// a Unicode noncharacter) is refused here, when the configuration is read, not on every event.
/// </summary>
internal static class CeOverrides
{
    /// <summary>Parses the JSON form. Null or blank text means no overrides.</summary>
    /// <exception cref="FormatException">The text is not the expected shape, names an invalid extension, or has a value CloudEvents forbids.</exception>
    public static IReadOnlyDictionary<string, string> Parse(string? json)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(json))
        {
            return result;
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            throw new FormatException($"not valid JSON ({ex.Message}); expected {{\"extensions\": {{\"name\": \"value\"}}}}", ex);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("expected a JSON object {\"extensions\": {...}}");
            }
            if (!document.RootElement.TryGetProperty("extensions", out var extensions) || extensions.ValueKind == JsonValueKind.Null)
            {
                return result;
            }
            if (extensions.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("\"extensions\" must be an object of names to string values");
            }
            foreach (var property in extensions.EnumerateObject())
            {
                Validate(property.Name);
                var value = property.Value.ValueKind switch
                {
                    JsonValueKind.String => property.Value.GetString()!,
                    JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => property.Value.GetRawText(),
                    _ => throw new FormatException($"the value of extension '{property.Name}' must be a string"),
                };
                ValidateValue(property.Name, value);
                result[property.Name] = value;
            }
        }
        return result;
    }

    /// <summary>Merges override sets; later ones win.</summary>
    public static IReadOnlyDictionary<string, string> Merge(params IReadOnlyDictionary<string, string>?[] sets)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var set in sets)
        {
            foreach (var (name, value) in set ?? new Dictionary<string, string>())
            {
                Validate(name);
                ValidateValue(name, value);
                result[name] = value;
            }
        }
        return result;
    }

    /// <summary>Null when <paramref name="value"/> can be an extension's value as it is; else why not.</summary>
    public static string? ValueProblem(string? value) =>
        value is null ? "it is null" : AttributeText.Problem(value) is { } problem ? $"'{AttributeText.Encode(value)}' contains {problem}" : null;

    private static void ValidateValue(string name, string? value)
    {
        if (ValueProblem(value) is { } problem)
        {
            throw new FormatException($"the value of extension '{name}' is not allowed in a CloudEvent: {problem}");
        }
    }

    private static void Validate(string name)
    {
        if (!EventAttributes.IsValidExtensionName(name))
        {
            throw new FormatException(
                $"'{name}' is not a valid CloudEvents extension name (lowercase letters and digits, at most 20 characters, not a context attribute)");
        }
    }
}
