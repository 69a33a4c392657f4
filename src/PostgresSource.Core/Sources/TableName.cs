using System.Text;

namespace PostgresSource.Core.Sources;

/// <summary>
/// A table as the user named it: "table", "schema.table", or either part in double quotes
/// ("My Schema"."My Table"). The text is kept as data and is only ever quoted, never pasted into SQL.
/// </summary>
internal sealed record TableName(string? Schema, string Name)
{
    // The list format of PGSOURCE_TABLES and spec.tables[].name: the writer (ToText, FormatList) and the reader
    // (Parse, SplitList, ParseList) sit together so that what one writes the other reads back unchanged.

    /// <summary>
    /// The table as spec.tables and PGSOURCE_TABLES carry it: schema.table, each part double-quoted (with "" for a
    /// quote) only when it would not read back the same bare: a dot, quote or comma in it, or space at either end.
    /// Plain names stay as users write them, so lists written before this format read the same.
    /// </summary>
    public string ToText() => Schema is null ? QuotePart(Name) : QuotePart(Schema) + "." + QuotePart(Name);

    /// <summary>Tables as one comma-separated text (PGSOURCE_TABLES); <see cref="ParseList"/> reads it back.</summary>
    public static string FormatList(IEnumerable<TableName> tables) => string.Join(",", tables.Select(t => t.ToText()));

    /// <summary>Reads what <see cref="FormatList"/> wrote, or a list a user typed (<c>orders, public.items</c>).</summary>
    public static IReadOnlyList<TableName> ParseList(string? text) =>
        string.IsNullOrWhiteSpace(text) ? [] : SplitList(text).Select(Parse).ToList();

    private static string QuotePart(string part)
    {
        var bare = part.Length > 0 && part.IndexOfAny(['.', '"', ',']) < 0 && part.Trim().Length == part.Length;
        return bare ? part : "\"" + part.Replace("\"", "\"\"") + "\"";
    }

    /// <summary>
    /// Splits a list of table names written as one string (a CSV cell, a config value): separated by commas, each
    /// name as <see cref="Parse"/> reads it; a comma inside double quotes is part of a quoted identifier
    /// (<c>orders, "odd,name", sales."Big, Orders"</c> is three names). Blank entries are dropped.
    /// </summary>
    public static IReadOnlyList<string> SplitList(string text)
    {
        var names = new List<string>();
        var start = 0;
        var quoted = false;
        for (var i = 0; i <= text.Length; i++)
        {
            if (i < text.Length && text[i] == '"')
            {
                // An escaped quote ("") inside a quoted name toggles twice: the name stays quoted.
                quoted = !quoted;
            }
            else if (i == text.Length || (text[i] == ',' && !quoted))
            {
                var name = text[start..i].Trim();
                if (name.Length > 0)
                {
                    names.Add(name);
                }
                start = i + 1;
            }
        }
        return names;
    }

    public static TableName Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new ArgumentException("A table name must not be empty.", nameof(text));
        }

        var parts = SplitParts(text.Trim());
        return parts.Count switch
        {
            1 => new TableName(null, parts[0]),
            2 => new TableName(parts[0], parts[1]),
            // Anything with more dots is kept whole: it names a (missing) table rather than guessing.
            _ => new TableName(null, text.Trim()),
        };
    }

    /// <summary>Splits on dots that are outside double quotes; quoted parts lose their quotes ("" becomes ").</summary>
    private static List<string> SplitParts(string text)
    {
        var parts = new List<string>();
        var current = new StringBuilder();
        var inQuotes = false;
        var wasQuoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '"')
            {
                if (inQuotes && i + 1 < text.Length && text[i + 1] == '"')
                {
                    current.Append('"');
                    i++;
                }
                else if (!inQuotes && current.Length == 0)
                {
                    inQuotes = true;
                    wasQuoted = true;
                }
                else if (inQuotes)
                {
                    inQuotes = false;
                }
                else
                {
                    // A quote in the middle of an unquoted name: not an identifier we split; keep the text whole.
                    return [text];
                }
            }
            else if (c == '.' && !inQuotes)
            {
                parts.Add(current.ToString());
                current.Clear();
                wasQuoted = false;
            }
            else
            {
                if (!inQuotes && wasQuoted)
                {
                    return [text];
                }
                current.Append(c);
            }
        }

        if (inQuotes)
        {
            return [text];
        }
        parts.Add(current.ToString());
        return parts.Any(string.IsNullOrEmpty) ? [text] : parts;
    }

    public override string ToString() => Schema is null ? Name : $"{Schema}.{Name}";
}
