using System.Text;
using System.Text.Json;
using PostgresSource.Core.Capture;

namespace PostgresSource.Core.Listening;

/// <summary>
/// Notices when the rows of a table start to arrive with other columns (an ALTER TABLE while the source runs: a column
/// added, dropped or renamed), so the listener can say so once per change instead of never. Every mode's events carry
/// the new shape by themselves; this only tells. Reads the keys of the payload's "data" without building a tree.
/// </summary>
internal sealed class TableShapeWatch
{
    private readonly Dictionary<(string Schema, string Table), string[]> _shapes = [];

    /// <summary>A sentence for the log when this change's columns differ from the table's previous change; else null.</summary>
    public string? Observe(CapturedChange change)
    {
        if (change.Operation == ChangeOperation.Truncate || change.Truncated || Columns(change.PayloadJson) is not { } columns)
        {
            return null;
        }
        var key = (change.Schema, change.Table);
        if (!_shapes.TryGetValue(key, out var before))
        {
            _shapes[key] = columns;
            return null;
        }
        if (before.AsSpan().SequenceEqual(columns))
        {
            return null;
        }
        _shapes[key] = columns;
        var added = columns.Except(before, StringComparer.Ordinal).ToList();
        var removed = before.Except(columns, StringComparer.Ordinal).ToList();
        var text = new StringBuilder($"Table {change.Schema}.{change.Table} changed shape while the source runs:");
        if (added.Count > 0) text.Append(added.Count == 1 ? " column " : " columns ").Append(string.Join(", ", added)).Append(" added;");
        if (removed.Count > 0) text.Append(removed.Count == 1 ? " column " : " columns ").Append(string.Join(", ", removed)).Append(" removed;");
        if (added.Count == 0 && removed.Count == 0) text.Append(" its columns are in another order;");
        if (added.Count > 0 && removed.Count > 0) text.Append(" (a renamed column shows as both);");
        return text.Append(" its events carry the new columns from here on.").ToString();
    }

    /// <summary>
    /// The keys of the payload's "data" object in order; null when it has none (a key-only delete, a TRUNCATE) or is no
    /// JSON at all (such a change goes its own way to the dead-letter sink: watching must not stop it).
    /// </summary>
    private static string[]? Columns(string payload)
    {
        try
        {
            return ReadColumns(payload);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string[]? ReadColumns(string payload)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(payload));
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return null;
        }
        string[]? columns = null;
        var keyOnly = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var property = reader.GetString();
            reader.Read();
            if (property == "data" && reader.TokenType == JsonTokenType.StartObject)
            {
                var names = new List<string>();
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    names.Add(reader.GetString()!);
                    reader.Read();
                    reader.Skip();
                }
                columns = [.. names];
            }
            else
            {
                keyOnly |= property == "keyOnly" && reader.TokenType == JsonTokenType.True;
                reader.Skip();
            }
        }
        return keyOnly ? null : columns;
    }
}
