using System.Text;

namespace PostgresSource.Core.Capture.Durable;

/// <summary>
/// The seed's payload of a journal row: the trigger stores only the row images, the reader wraps them here.
/// The text is what <c>json_build_object('table', …, 'schema', …, 'action', …, 'data', …[, 'old', …])</c>
/// printed when earlier versions built it in the trigger, so events are the same byte for byte. Doing it here
/// takes that work off every user write.
/// </summary>
internal static class JournalPayload
{
    public static string Compose(string schema, string table, string operation, string data, string? old)
    {
        var text = new StringBuilder(data.Length + (old?.Length ?? 0) + schema.Length + table.Length + 64);
        text.Append("{\"table\" : ");
        AppendString(text, table);
        text.Append(", \"schema\" : ");
        AppendString(text, schema);
        text.Append(", \"action\" : ");
        AppendString(text, operation);
        text.Append(", \"data\" : ").Append(data);
        if (old is not null)
        {
            text.Append(", \"old\" : ").Append(old);
        }
        return text.Append('}').ToString();
    }

    /// <summary>A JSON string escaped as PostgreSQL's escape_json does (short escapes, \u00xx below space, the rest as is).</summary>
    private static void AppendString(StringBuilder text, string value)
    {
        text.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\b': text.Append("\\b"); break;
                case '\f': text.Append("\\f"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                case < ' ': text.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture)); break;
                default: text.Append(c); break;
            }
        }
        text.Append('"');
    }
}
