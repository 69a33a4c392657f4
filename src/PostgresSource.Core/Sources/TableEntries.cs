using System.Text.Json;
using System.Text.Json.Nodes;

namespace PostgresSource.Core.Sources;

/// <summary>
/// A source's tables as spec.tables[] writes them, in JSON: {"name": ...} and, for a filtered table, the filter's
/// fields (operations, columns, excludeColumns, maskColumns, mask, where). One reader and one writer for the custom
/// resource (YAML read as JSON), the adapter's PGSOURCE_TABLE_FILTERS and the sync, so all three mean the same. An entry
/// with only a name is the seed's, and reads as a table without a filter.
/// </summary>
internal static class TableEntries
{
    private static readonly JsonSerializerOptions Readable = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public const string Name = "name", Operations = "operations", Columns = "columns", ExcludeColumns = "excludeColumns",
        MaskColumns = "maskColumns", Mask = "mask", Where = "where";

    /// <summary>The entry of one table: its name, and its filter's fields when it has one.</summary>
    public static JsonObject Write(TableName table, TableFilter? filter)
    {
        var entry = new JsonObject { [Name] = table.ToText() };
        if (filter is null)
        {
            return entry;
        }
        if (filter.Operations != TableOperations.All) entry[Operations] = Array(TableFilter.OperationNames(filter.Operations));
        if (filter.IncludeColumns.Count > 0) entry[Columns] = Array(filter.IncludeColumns);
        if (filter.ExcludeColumns.Count > 0) entry[ExcludeColumns] = Array(filter.ExcludeColumns);
        if (filter.MaskColumns.Count > 0) entry[MaskColumns] = Array(filter.MaskColumns);
        if (filter.MaskColumns.Count > 0 && filter.MaskStyle != MaskStyle.Placeholder) entry[Mask] = filter.MaskStyle.ToString().ToLowerInvariant();
        if (filter.Where is not null) entry[Where] = filter.Where;
        return entry;
    }

    /// <summary>The filters of a source's tables as PGSOURCE_TABLE_FILTERS carries them; null when no table has one.</summary>
    public static string? FormatFilters(SourceDefinition source)
    {
        var entries = source.Tables.Select(t => (t, f: source.FilterFor(t))).Where(x => x.f is not null).Select(x => (JsonNode)Write(x.t, x.f)).ToArray();
        // Unescaped (> stays >), so kubectl describe shows the condition as written.
        return entries.Length == 0 ? null : new JsonArray(entries).ToJsonString(Readable);
    }

    /// <summary>
    /// The filter one entry gives its table, or null when it gives none. <paramref name="field"/> names the entry in
    /// errors (spec.tables[2]); a wrong field is a <see cref="SourceValidationException"/> naming it.
    /// </summary>
    public static TableFilter? ReadFilter(JsonObject entry, TableName table, string field)
    {
        var filter = new TableFilter
        {
            Table = table,
            Operations = entry[Operations] is null ? TableOperations.All : TableFilter.ParseOperations(Strings(entry, Operations, field), $"{field}.{Operations}"),
            IncludeColumns = Strings(entry, Columns, field),
            ExcludeColumns = Strings(entry, ExcludeColumns, field),
            MaskColumns = Strings(entry, MaskColumns, field),
            MaskStyle = TableFilter.ParseMaskStyle(Text(entry, Mask, field), $"{field}.{Mask}"),
            Where = Text(entry, Where, field),
        };
        return filter.IsEmpty && entry[Operations] is null ? null : filter;
    }

    /// <summary>Reads PGSOURCE_TABLE_FILTERS: a JSON array of entries, each naming one of <paramref name="tables"/>.</summary>
    public static IReadOnlyList<TableFilter> ParseFilters(string? json, IReadOnlyList<TableName> tables, string field)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return [];
        }
        JsonArray entries;
        try
        {
            entries = JsonNode.Parse(json) as JsonArray ?? throw new SourceValidationException(field, "is not a JSON array of table entries ([{\"name\": ..., \"where\": ...}]).");
        }
        catch (JsonException ex)
        {
            throw new SourceValidationException(field, $"is not valid JSON: {ex.Message}");
        }
        var filters = new List<TableFilter>();
        for (var i = 0; i < entries.Count; i++)
        {
            var entryField = $"{field}[{i}]";
            if (entries[i] is not JsonObject entry || Text(entry, Name, entryField) is not { } name)
            {
                throw new SourceValidationException($"{entryField}.{Name}", "is missing: each entry names its table.");
            }
            var table = TableName.Parse(name);
            if (!tables.Contains(table))
            {
                throw new SourceValidationException($"{entryField}.{Name}", $"'{name}' is not one of the source's tables ({TableName.FormatList(tables)}).");
            }
            if (ReadFilter(entry, table, entryField) is { } filter)
            {
                filters.Add(filter);
            }
        }
        return filters;
    }

    private static JsonArray Array(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode)JsonValue.Create(v))]);

    private static string? Text(JsonObject entry, string name, string field) => entry[name] switch
    {
        null => null,
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        _ => throw new SourceValidationException($"{field}.{name}", "must be a string."),
    };

    /// <summary>A list of strings; a single string is taken as a one-item list (operations: insert).</summary>
    private static IReadOnlyList<string> Strings(JsonObject entry, string name, string field) => entry[name] switch
    {
        null => [],
        JsonValue value when value.TryGetValue<string>(out var one) => [one],
        JsonArray list when list.All(n => n is JsonValue v && v.TryGetValue<string>(out _)) => [.. list.Select(n => n!.GetValue<string>())],
        _ => throw new SourceValidationException($"{field}.{name}", "must be a list of strings."),
    };
}
