using System.Text.Json;
using System.Text.RegularExpressions;
using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;

namespace PostgresSource.Core.Capture.Logical;

/// <summary>
/// One row of a pgoutput message (text format), read in column order, and written as JSON close to what
/// row_to_json gives: numbers and booleans as JSON values, json and jsonb as JSON, everything else as its
/// PostgreSQL text. An unchanged TOASTed value is not sent by the server: it is taken from the old row when
/// the table has REPLICA IDENTITY FULL, and otherwise left out of "data" and named in "unchangedToasted".
/// </summary>
internal sealed partial class PgOutputRow
{
    private enum Kind
    {
        Null,
        Text,
        Unchanged,
    }

    private readonly List<(string Name, uint Type, Kind Kind, string? Text)> _columns;

    private PgOutputRow(List<(string, uint, Kind, string?)> columns) => _columns = columns;

    public static async Task<PgOutputRow> ReadAsync(ReplicationTuple tuple, RelationMessage relation, CancellationToken cancellationToken)
    {
        var columns = new List<(string, uint, Kind, string?)>(relation.Columns.Count);
        var index = 0;
        await foreach (var value in tuple.ConfigureAwait(false))
        {
            var column = relation.Columns[index++];
            switch (value.Kind)
            {
                case TupleDataKind.Null:
                    columns.Add((column.ColumnName, column.DataTypeId, Kind.Null, null));
                    break;
                case TupleDataKind.UnchangedToastedValue:
                    columns.Add((column.ColumnName, column.DataTypeId, Kind.Unchanged, null));
                    break;
                case TupleDataKind.BinaryValue:
                    // Not requested (binary = false); kept readable if a server sends it anyway.
                    await using (var stream = value.GetStream())
                    using (var memory = new MemoryStream())
                    {
                        await stream.CopyToAsync(memory, cancellationToken).ConfigureAwait(false);
                        columns.Add((column.ColumnName, 17u, Kind.Text, "\\x" + Convert.ToHexString(memory.ToArray()).ToLowerInvariant()));
                    }
                    break;
                default:
                    using (var reader = value.GetTextReader())
                    {
                        columns.Add((column.ColumnName, column.DataTypeId, Kind.Text, await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false)));
                    }
                    break;
            }
        }
        return new PgOutputRow(columns);
    }

    /// <summary>Writes the row as a JSON object; unchanged TOASTed columns come from <paramref name="old"/> when it has them, else are listed in <paramref name="unchanged"/>.</summary>
    public void Write(Utf8JsonWriter writer, PgOutputRow? old, List<string> unchanged)
    {
        writer.WriteStartObject();
        foreach (var column in _columns)
        {
            var (name, type, kind, text) = column;
            if (kind == Kind.Unchanged)
            {
                var previous = old?._columns.FirstOrDefault(c => c.Name == name);
                if (previous is { Kind: Kind.Text or Kind.Null } p)
                {
                    (type, kind, text) = (p.Type, p.Kind, p.Text);
                }
                else
                {
                    unchanged.Add(name);
                    continue;
                }
            }
            writer.WritePropertyName(name);
            if (kind == Kind.Null)
            {
                writer.WriteNullValue();
                continue;
            }
            WriteValue(writer, type, text!);
        }
        writer.WriteEndObject();
    }

    /// <summary>The row as JSON text (for key lookups).</summary>
    public string ToJson()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, null, []);
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteValue(Utf8JsonWriter writer, uint type, string text)
    {
        switch (type)
        {
            case 16: // bool
                writer.WriteBooleanValue(text == "t");
                break;
            case 20 or 21 or 23 or 26 or 700 or 701 or 1700 when JsonNumber().IsMatch(text): // int8, int2, int4, oid, float4, float8, numeric
                writer.WriteRawValue(text, skipInputValidation: true);
                break;
            case 114 or 3802: // json, jsonb
                writer.WriteRawValue(text);
                break;
            default:
                writer.WriteStringValue(text);
                break;
        }
    }

    [GeneratedRegex(@"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$")]
    private static partial Regex JsonNumber();
}
