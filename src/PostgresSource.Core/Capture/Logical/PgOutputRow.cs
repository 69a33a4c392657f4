using System.Buffers;
using System.Text.Json;
using Npgsql.Replication.PgOutput;

namespace PostgresSource.Core.Capture.Logical;

/// <summary>
/// One tuple of a pgoutput message (text format), its values kept as the UTF-8 bytes the server sent, in
/// one buffer that is reused from row to row, and written as JSON close to what row_to_json gives: numbers
/// and booleans as JSON values, json and jsonb as JSON, everything else as its PostgreSQL text. Nothing is
/// decoded to .NET strings on the way (reading a row allocates nothing once the buffer has grown).
/// An unchanged TOASTed value is not sent by the server: it is taken from the old row when the table has
/// REPLICA IDENTITY FULL, and otherwise left out of the object and named by <see cref="WriteUnchangedNames"/>.
/// </summary>
internal sealed class PgOutputRow
{
    private const int InitialBytes = 1024;
    // A buffer that grew for one large row is not kept for the small ones after it.
    private const int KeptBytes = 256 * 1024;

    private enum Kind : byte
    {
        Null,
        Text,
        Unchanged,
        /// <summary>A binary value (only if a server sends one unasked), kept as bytea hex text: always a JSON string.</summary>
        HexText,
    }

    private readonly record struct Value(Kind Kind, int Start, int Length);

    private byte[] _bytes = new byte[InitialBytes];
    private Value[] _values = new Value[16];
    private int _count;
    private int _used;

    public async ValueTask ReadAsync(ReplicationTuple tuple, CancellationToken cancellationToken)
    {
        if (_bytes.Length > KeptBytes)
        {
            _bytes = new byte[InitialBytes];
        }
        _count = 0;
        _used = 0;
        await foreach (var value in tuple.ConfigureAwait(false))
        {
            switch (value.Kind)
            {
                case TupleDataKind.Null:
                    Add(Kind.Null, 0);
                    break;
                case TupleDataKind.UnchangedToastedValue:
                    Add(Kind.Unchanged, 0);
                    break;
                case TupleDataKind.BinaryValue:
                    // Not requested (binary = false); kept readable if a server sends it anyway.
                    await ReadBytesAsync(value, cancellationToken).ConfigureAwait(false);
                    ToHexText(value.Length);
                    break;
                default:
                    await ReadBytesAsync(value, cancellationToken).ConfigureAwait(false);
                    Add(Kind.Text, value.Length);
                    break;
            }
        }
    }

    /// <summary>Writes the row as a JSON object; an unchanged TOASTed value comes from <paramref name="old"/> (same relation, same column order) when it has it, else is left out.</summary>
    public void WriteObject(Utf8JsonWriter writer, RelationColumns columns, PgOutputRow? old)
    {
        writer.WriteStartObject();
        for (var i = 0; i < _count; i++)
        {
            var (row, value) = Resolve(i, old);
            if (value.Kind == Kind.Unchanged)
            {
                continue;
            }
            writer.WritePropertyName(columns.Names[i]);
            row.WriteValue(writer, value, columns.Types[i]);
        }
        writer.WriteEndObject();
    }

    /// <summary>Writes <paramref name="property"/>: [names of the unchanged TOASTed columns <paramref name="old"/> did not supply], if there are any.</summary>
    public void WriteUnchangedNames(Utf8JsonWriter writer, JsonEncodedText property, RelationColumns columns, PgOutputRow? old)
    {
        var started = false;
        for (var i = 0; i < _count; i++)
        {
            if (Resolve(i, old).Value.Kind != Kind.Unchanged)
            {
                continue;
            }
            if (!started)
            {
                writer.WriteStartArray(property);
                started = true;
            }
            writer.WriteStringValue(columns.Names[i]);
        }
        if (started)
        {
            writer.WriteEndArray();
        }
    }

    /// <summary>The row as JSON text (for the snapshot seam's key lookups; not on the streaming path).</summary>
    public string ToJson(RelationColumns columns)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteObject(writer, columns, null);
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private (PgOutputRow Row, Value Value) Resolve(int index, PgOutputRow? old)
    {
        var value = _values[index];
        if (value.Kind == Kind.Unchanged && old is not null && index < old._count && old._values[index].Kind != Kind.Unchanged)
        {
            return (old, old._values[index]);
        }
        return (this, value);
    }

    private void WriteValue(Utf8JsonWriter writer, Value value, uint type)
    {
        var text = _bytes.AsSpan(value.Start, value.Length);
        if (value.Kind == Kind.Null)
        {
            writer.WriteNullValue();
            return;
        }
        if (value.Kind == Kind.HexText)
        {
            writer.WriteStringValue(text);
            return;
        }
        switch (type)
        {
            case 16: // bool
                writer.WriteBooleanValue(text.SequenceEqual("t"u8));
                break;
            case 20 or 21 or 23 or 26 or 700 or 701 or 1700 when JsonNumberText.IsJsonNumber(text): // int8, int2, int4, oid, float4, float8, numeric
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

    private async ValueTask ReadBytesAsync(ReplicationValue value, CancellationToken cancellationToken)
    {
        var length = value.Length;
        EnsureRoom(length);
        await using var stream = value.GetStream();
        var read = 0;
        while (read < length)
        {
            var got = await stream.ReadAsync(_bytes.AsMemory(_used + read, length - read), cancellationToken).ConfigureAwait(false);
            if (got == 0)
            {
                throw new EndOfStreamException($"A column value ended after {read} of {length} bytes.");
            }
            read += got;
        }
    }

    /// <summary>Turns the <paramref name="length"/> raw bytes just read (at the end of the buffer) into "\x" and lowercase hex, as bytea's text is.</summary>
    private void ToHexText(int length)
    {
        var raw = _bytes.AsSpan(_used, length).ToArray();
        EnsureRoom(2 + 2 * length);
        var hex = _bytes.AsSpan(_used, 2 + 2 * length);
        hex[0] = (byte)'\\';
        hex[1] = (byte)'x';
        for (var i = 0; i < raw.Length; i++)
        {
            hex[2 + 2 * i] = "0123456789abcdef"u8[raw[i] >> 4];
            hex[3 + 2 * i] = "0123456789abcdef"u8[raw[i] & 0xF];
        }
        Add(Kind.HexText, hex.Length);
    }

    /// <summary>Adds a value whose <paramref name="length"/> bytes were just written at the end of the buffer.</summary>
    private void Add(Kind kind, int length)
    {
        if (_count == _values.Length)
        {
            Array.Resize(ref _values, _values.Length * 2);
        }
        _values[_count++] = new Value(kind, _used, length);
        _used += length;
    }

    private void EnsureRoom(int length)
    {
        if (_bytes.Length - _used < length)
        {
            Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _used + length));
        }
    }
}
