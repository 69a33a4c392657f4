namespace PostgresSource.Core.Capture.Logical;

/// <summary>
/// Whether PostgreSQL's text of a number is also a JSON number, checked on the UTF-8 bytes as they came
/// from the server. NaN and Infinity (float, numeric) are not, and go out as strings, as row_to_json does.
/// </summary>
internal static class JsonNumberText
{
    /// <summary>-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?</summary>
    public static bool IsJsonNumber(ReadOnlySpan<byte> text)
    {
        var i = 0;
        if (i < text.Length && text[i] == (byte)'-')
        {
            i++;
        }
        if (i < text.Length && text[i] == (byte)'0')
        {
            i++;
        }
        else if (!SkipDigits(text, ref i))
        {
            return false;
        }
        if (i < text.Length && text[i] == (byte)'.')
        {
            i++;
            if (!SkipDigits(text, ref i))
            {
                return false;
            }
        }
        if (i < text.Length && (text[i] == (byte)'e' || text[i] == (byte)'E'))
        {
            i++;
            if (i < text.Length && (text[i] == (byte)'+' || text[i] == (byte)'-'))
            {
                i++;
            }
            if (!SkipDigits(text, ref i))
            {
                return false;
            }
        }
        return i == text.Length;
    }

    /// <summary>Moves past one or more digits; false when there is none.</summary>
    private static bool SkipDigits(ReadOnlySpan<byte> text, ref int i)
    {
        var start = i;
        while (i < text.Length && text[i] >= (byte)'0' && text[i] <= (byte)'9')
        {
            i++;
        }
        return i > start;
    }
}
