using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Capture;

/// <summary>
/// The table filters a capture applies itself, where the database did not: Logical mode's per-table operations (a
/// publication's are shared by all its tables) and its column filters, and the column filters of snapshot rows in
/// every mode. Keyed by the table's oid (pgoutput's relation id; a partitioned table's own), so a table renamed while
/// the source runs keeps its filter. Tables without a filter cost one lookup.
/// </summary>
internal sealed class ChangeFilters
{
    // Payloads keep their characters as the database wrote them (no \u escapes for non-ASCII).
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly Dictionary<uint, TableFilter> _filters;

    private ChangeFilters(Dictionary<uint, TableFilter> filters) => _filters = filters;

    public static ChangeFilters None { get; } = new([]);

    public static ChangeFilters For(IEnumerable<ResolvedTable> tables) =>
        new(tables.Where(t => t.Filter is not null).ToDictionary(t => t.Oid, t => t.Filter!));

    public TableFilter? For(uint table) => _filters.GetValueOrDefault(table);

    /// <summary>The table's filter does not let this operation through (snapshot rows always pass).</summary>
    public bool Drops(uint table, ChangeOperation operation) =>
        For(table) is { } filter && operation switch
        {
            ChangeOperation.Insert => !filter.Allows(TableOperations.Insert),
            ChangeOperation.Update => !filter.Allows(TableOperations.Update),
            ChangeOperation.Delete => !filter.Allows(TableOperations.Delete),
            ChangeOperation.Truncate => !filter.Allows(TableOperations.Truncate),
            _ => false,
        };

    /// <summary>The payload with the table's column filter applied to its row images; unchanged for a table without one.</summary>
    public string ShapeColumns(uint table, string payload) =>
        For(table) is { ShapesColumns: true } filter ? Shape(filter, payload) : payload;

    /// <summary>
    /// Applies a column filter to a payload's "data", "old" and "oldKey" objects and its "unchangedToasted" names, as the
    /// trigger functions do in the database: the same keys kept, the same placeholder, the same hash (SHA-256 of the
    /// value's text, lowercase hex; a null stays null).
    /// </summary>
    public static string Shape(TableFilter filter, string payload)
    {
        var root = JsonNode.Parse(payload)!.AsObject();
        foreach (var image in new[] { "data", "old", "oldKey" })
        {
            if (root[image] is JsonObject row)
            {
                root[image] = ShapeRow(filter, row);
            }
        }
        if (root["unchangedToasted"] is JsonArray names)
        {
            root["unchangedToasted"] = new JsonArray([.. names.Where(n => n is not null && Keeps(filter, n.GetValue<string>())).Select(n => n!.DeepClone())]);
        }
        return root.ToJsonString(Relaxed);
    }

    private static JsonObject ShapeRow(TableFilter filter, JsonObject row)
    {
        var shaped = new JsonObject();
        foreach (var (column, value) in row)
        {
            if (!Keeps(filter, column))
            {
                continue;
            }
            shaped[column] = value is null || !filter.MaskColumns.Contains(column) ? value?.DeepClone() : Mask(filter.MaskStyle, value);
        }
        return shaped;
    }

    private static bool Keeps(TableFilter filter, string column) =>
        (filter.IncludeColumns.Count == 0 || filter.IncludeColumns.Contains(column)) && !filter.ExcludeColumns.Contains(column);

    private static JsonNode Mask(MaskStyle style, JsonNode value)
    {
        if (style == MaskStyle.Placeholder)
        {
            return JsonValue.Create(TableFilter.Placeholder);
        }
        var text = value is JsonValue scalar && scalar.TryGetValue<string>(out var s) ? s : value.ToJsonString(Relaxed);
        return JsonValue.Create(Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text))).ToLowerInvariant());
    }
}
