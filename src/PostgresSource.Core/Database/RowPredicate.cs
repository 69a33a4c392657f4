using System.Text;

namespace PostgresSource.Core.Database;

/// <summary>
/// A table filter's row condition (spec.tables[].where): an SQL boolean expression over the table's columns by their
/// bare names, as a publication's row filter reads it. It is SQL by design, so it is never quoted; instead its
/// lexical shape is checked (one expression: no statement separator, parentheses balanced, every literal and comment
/// closed), so it cannot end the clause it is placed in, and PostgreSQL then checks its meaning at install.
/// For a trigger's WHEN clause its column names are qualified with NEW or OLD (<see cref="Qualify"/>).
/// </summary>
internal static class RowPredicate
{
    private enum Kind { Word, QuotedName, Literal, Number, Symbol }

    private sealed record Token(Kind Kind, string Text, int Start, int Length)
    {
        /// <summary>The name a word or quoted name stands for: words fold to lower case, as PostgreSQL folds them.</summary>
        public string Name => Kind == Kind.QuotedName ? Text[1..^1].Replace("\"\"", "\"") : Text.ToLowerInvariant();
    }

    /// <summary>Null when the text is one expression PostgreSQL can be asked about; else what is wrong with it.</summary>
    public static string? Problem(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return "it is empty";
        }
        if (text.Contains('\0'))
        {
            return "it contains a NUL character";
        }
        if (text.Contains("$pgsource$", StringComparison.Ordinal))
        {
            return "it contains $pgsource$, the quote of the install's own scripts";
        }
        var (tokens, problem) = Tokenize(text);
        if (problem is not null)
        {
            return problem;
        }
        var depth = 0;
        foreach (var token in tokens.Where(t => t.Kind == Kind.Symbol))
        {
            switch (token.Text)
            {
                case ";":
                    return "it contains ';': give one condition, not statements";
                case "(":
                    depth++;
                    break;
                case ")" when --depth < 0:
                    return "it closes a parenthesis it did not open";
            }
        }
        return depth == 0 ? null : "a parenthesis is not closed";
    }

    /// <summary>The columns of <paramref name="columns"/> the condition names.</summary>
    public static IReadOnlySet<string> ReferencedColumns(string text, IReadOnlyCollection<string> columns) =>
        ColumnReferences(Tokenize(text).Tokens, columns).Select(t => t.Name).ToHashSet(StringComparer.Ordinal);

    /// <summary>The condition with each column name it uses written as <paramref name="row"/>."column" (NEW or OLD).</summary>
    public static string Qualify(string text, IReadOnlyCollection<string> columns, string row)
    {
        var result = new StringBuilder(text.Length + 16);
        var position = 0;
        foreach (var token in ColumnReferences(Tokenize(text).Tokens, columns))
        {
            result.Append(text, position, token.Start - position).Append(row).Append('.').Append(Sql.Identifier(token.Name));
            position = token.Start + token.Length;
        }
        return result.Append(text, position, text.Length - position).ToString();
    }

    /// <summary>
    /// Names that stand for a column: a word or quoted name matching one, not qualified (after "." or before "."), not a
    /// function (before "("), and not a type name (after "::" or a CAST's AS).
    /// </summary>
    private static IEnumerable<Token> ColumnReferences(IReadOnlyList<Token> tokens, IReadOnlyCollection<string> columns)
    {
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            if (token.Kind is not (Kind.Word or Kind.QuotedName) || !columns.Contains(token.Name))
            {
                continue;
            }
            var before = i > 0 ? tokens[i - 1] : null;
            var after = i + 1 < tokens.Count ? tokens[i + 1] : null;
            var qualifiedOrType = before is { Kind: Kind.Symbol, Text: "." or "::" } || before is { Kind: Kind.Word, Name: "as" };
            var qualifierOrFunction = after is { Kind: Kind.Symbol, Text: "." or "(" };
            if (!qualifiedOrType && !qualifierOrFunction)
            {
                yield return token;
            }
        }
    }

    private static (IReadOnlyList<Token> Tokens, string? Problem) Tokenize(string text)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            var start = i;
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c == '-' && At(text, i + 1, '-'))
            {
                while (i < text.Length && text[i] != '\n') i++;
            }
            else if (c == '/' && At(text, i + 1, '*'))
            {
                if (!SkipBlockComment(text, ref i)) return (tokens, "a /* comment is not closed");
            }
            else if (c == '\'')
            {
                if (!SkipString(text, ref i, backslashEscapes: false)) return (tokens, "a string literal is not closed");
                tokens.Add(new Token(Kind.Literal, text[start..i], start, i - start));
            }
            else if (c == '"')
            {
                if (!SkipQuoted(text, ref i, '"')) return (tokens, "a quoted name is not closed");
                tokens.Add(new Token(Kind.QuotedName, text[start..i], start, i - start));
            }
            else if (c == '$' && DollarTag(text, i) is { } tag)
            {
                var end = text.IndexOf(tag, i + tag.Length, StringComparison.Ordinal);
                if (end < 0) return (tokens, "a dollar-quoted string is not closed");
                i = end + tag.Length;
                tokens.Add(new Token(Kind.Literal, text[start..i], start, i - start));
            }
            else if (char.IsLetter(c) || c == '_' || c > 127)
            {
                while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] is '_' or '$' || text[i] > 127)) i++;
                var word = text[start..i];
                if (i < text.Length && text[i] == '\'' && word.Length <= 2 && "eEbBxXnN".Contains(word[0], StringComparison.Ordinal))
                {
                    // A prefixed literal: E'..' honours backslash escapes; B'..', X'..', N'..' are plain.
                    if (!SkipString(text, ref i, backslashEscapes: word is "e" or "E")) return (tokens, "a string literal is not closed");
                    tokens.Add(new Token(Kind.Literal, text[start..i], start, i - start));
                }
                else
                {
                    tokens.Add(new Token(Kind.Word, word, start, i - start));
                }
            }
            else if (char.IsDigit(c))
            {
                while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] is '.' or '_')) i++;
                tokens.Add(new Token(Kind.Number, text[start..i], start, i - start));
            }
            else
            {
                var length = c == ':' && At(text, i + 1, ':') ? 2 : 1;
                i += length;
                tokens.Add(new Token(Kind.Symbol, text.Substring(start, length), start, length));
            }
        }
        return (tokens, null);
    }

    private static bool At(string text, int index, char c) => index < text.Length && text[index] == c;

    /// <summary>Past a '...' literal ('' is a quote; with backslash escapes \' is too). False when it does not close.</summary>
    private static bool SkipString(string text, ref int i, bool backslashEscapes)
    {
        i++;
        while (i < text.Length)
        {
            if (backslashEscapes && text[i] == '\\')
            {
                i += 2;
                continue;
            }
            if (text[i] == '\'')
            {
                if (At(text, i + 1, '\''))
                {
                    i += 2;
                    continue;
                }
                i++;
                return true;
            }
            i++;
        }
        return false;
    }

    private static bool SkipQuoted(string text, ref int i, char quote)
    {
        i++;
        while (i < text.Length)
        {
            if (text[i] == quote)
            {
                if (At(text, i + 1, quote))
                {
                    i += 2;
                    continue;
                }
                i++;
                return true;
            }
            i++;
        }
        return false;
    }

    /// <summary>Past a /* comment */, which PostgreSQL nests. False when it does not close.</summary>
    private static bool SkipBlockComment(string text, ref int i)
    {
        var depth = 0;
        while (i < text.Length)
        {
            if (text[i] == '/' && At(text, i + 1, '*'))
            {
                depth++;
                i += 2;
            }
            else if (text[i] == '*' && At(text, i + 1, '/'))
            {
                i += 2;
                if (--depth == 0) return true;
            }
            else
            {
                i++;
            }
        }
        return false;
    }

    /// <summary>The opening $tag$ of a dollar-quoted string at <paramref name="i"/>, or null ($1 and the like are not one).</summary>
    private static string? DollarTag(string text, int i)
    {
        var j = i + 1;
        while (j < text.Length && (char.IsLetter(text[j]) || text[j] == '_' || (j > i + 1 && char.IsDigit(text[j])))) j++;
        return j < text.Length && text[j] == '$' ? text[i..(j + 1)] : null;
    }
}
