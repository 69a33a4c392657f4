using System.Buffers;
using System.Text;
using System.Text.Json;
using PostgresSource.Core.Capture;

namespace PostgresSource.Core.Listening;

/// <summary>
/// Notices when the rows of a table start to arrive with other columns (an ALTER TABLE while the source runs: a column
/// added, dropped or renamed), so the listener can say so once per change instead of never. Every mode's events carry
/// the new shape by themselves; this only tells. It runs for every change, so it reads the keys of the payload's "data"
/// in place, comparing them with the table's known columns, and allocates only when the shape did change.
/// </summary>
internal sealed class TableShapeWatch
{
    private readonly Dictionary<(string Schema, string Table), string[]> _shapes = [];

    /// <summary>A sentence for the log when this change's columns differ from the table's previous change; else null.</summary>
    public string? Observe(CapturedChange change)
    {
        if (change.Operation == ChangeOperation.Truncate || change.Truncated)
        {
            return null;
        }
        var key = (change.Schema, change.Table);
        _shapes.TryGetValue(key, out var before);
        var bytes = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(change.PayloadJson.Length));
        string[]? columns;
        try
        {
            var length = Encoding.UTF8.GetBytes(change.PayloadJson, bytes);
            columns = ChangedColumns(bytes.AsSpan(0, length), before);
        }
        catch (JsonException)
        {
            // No JSON at all: such a change goes its own way to the dead-letter sink; watching must not stop it.
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
        if (columns is null)
        {
            return null;
        }
        _shapes[key] = columns;
        return before is null ? null : Describe(change, before, columns);
    }

    private static string Describe(CapturedChange change, string[] before, string[] columns)
    {
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
    /// The keys of the payload's "data" object when they differ from <paramref name="known"/> (or nothing is known);
    /// null when they are the same, or there are none to compare (a key-only delete, a TRUNCATE).
    /// </summary>
    private static string[]? ChangedColumns(ReadOnlySpan<byte> payload, string[]? known)
    {
        var reader = new Utf8JsonReader(payload);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return null;
        }
        string[]? columns = null;
        var keyOnly = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isData = reader.ValueTextEquals("data"u8);
            var isKeyOnly = reader.ValueTextEquals("keyOnly"u8);
            reader.Read();
            if (isData && reader.TokenType == JsonTokenType.StartObject)
            {
                columns = ReadData(ref reader, known);
            }
            else
            {
                keyOnly |= isKeyOnly && reader.TokenType == JsonTokenType.True;
                reader.Skip();
            }
        }
        return keyOnly ? null : columns;
    }

    /// <summary>Reads the "data" object's keys: null while they match <paramref name="known"/>, else all of them.</summary>
    private static string[]? ReadData(ref Utf8JsonReader reader, string[]? known)
    {
        List<string>? names = null;
        var index = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (names is null && known is not null && index < known.Length && reader.ValueTextEquals(known[index]))
            {
                index++;
            }
            else
            {
                // The first difference: from here on the names are collected, with those that matched before them.
                names ??= [.. known?.Take(index) ?? []];
                names.Add(reader.GetString()!);
            }
            reader.Read();
            reader.Skip();
        }
        if (names is null && known is not null && index == known.Length)
        {
            return null;
        }
        return names is not null ? [.. names] : known is null ? [] : [.. known.Take(index)];
    }
}
