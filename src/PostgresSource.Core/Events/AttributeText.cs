using System.Globalization;
using System.Text;

namespace PostgresSource.Core.Events;

/// <summary>
/// The one rule for putting text that comes from the database (schema and table names, ids, transaction
/// ids, LSNs, error reasons) into a CloudEvents string attribute. CloudEvents 1.0 forbids some characters
/// in strings; PostgreSQL identifiers may hold any of them (a table named with a tab is legal), so such
/// text is encoded, never refused:
/// <list type="bullet">
/// <item>every character CloudEvents forbids, that is a control character (U+0000–U+001F, U+007F–U+009F)
/// or a Unicode noncharacter (U+FDD0–U+FDEF, and every code point ending in FFFE or FFFF), and the
/// percent sign '%' itself, becomes '%' and two uppercase hex digits for each byte of its UTF-8 form
/// (tab → <c>%09</c>, newline → <c>%0A</c>, '%' → <c>%25</c>, U+0085 → <c>%C2%85</c>);</item>
/// <item>everything else stays as it is: letters in any script, spaces, quotes, commas, dots;</item>
/// <item>an unpaired UTF-16 surrogate (PostgreSQL text, being valid UTF-8, never has one) becomes U+FFFD's
/// bytes, <c>%EF%BF%BD</c>.</item>
/// </list>
/// The encoding is reversible: percent-decoding as UTF-8 (<see cref="Decode"/>, <c>[uri]::UnescapeDataString</c>,
/// JavaScript's <c>decodeURIComponent</c>) gives the original text. Text without these characters (nearly all
/// names) is returned unchanged, without allocating.
/// </summary>
internal static class AttributeText
{
    /// <summary>Encodes <paramref name="text"/> by the rule above; the same string when nothing needs encoding.</summary>
    public static string Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var first = FirstCandidate(text);
        if (first < 0)
        {
            return text;
        }
        var builder = new StringBuilder(text.Length + 16);
        builder.Append(text, 0, first);
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = first; i < text.Length;)
        {
            var status = Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out var consumed);
            if (status != System.Buffers.OperationStatus.Done)
            {
                // An unpaired surrogate: there is no UTF-8 for it.
                rune = Rune.ReplacementChar;
                consumed = 1;
                AppendEscaped(builder, rune, utf8);
            }
            else if (MustEncode(rune))
            {
                AppendEscaped(builder, rune, utf8);
            }
            else
            {
                builder.Append(text, i, consumed);
            }
            i += consumed;
        }
        return builder.ToString();
    }

    /// <summary>The original text of an encoded attribute value (percent-decoding, UTF-8).</summary>
    public static string Decode(string encoded) => Uri.UnescapeDataString(encoded);

    /// <summary>
    /// Null when CloudEvents allows <paramref name="text"/> as a string attribute as it is; otherwise what is
    /// wrong with it, for a configuration error ("U+0009, a control character"). '%' is allowed: user-given
    /// values are kept verbatim, only text from the database is encoded.
    /// </summary>
    public static string? Problem(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        for (var i = 0; i < text.Length;)
        {
            var status = Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out var consumed);
            if (status != System.Buffers.OperationStatus.Done)
            {
                return string.Create(CultureInfo.InvariantCulture, $"U+{(int)text[i]:X4}, an unpaired surrogate, at position {i + 1}");
            }
            if (IsControl(rune.Value))
            {
                return string.Create(CultureInfo.InvariantCulture, $"U+{rune.Value:X4}, a control character, at position {i + 1}");
            }
            if (IsNoncharacter(rune.Value))
            {
                return string.Create(CultureInfo.InvariantCulture, $"U+{rune.Value:X4}, a Unicode noncharacter, at position {i + 1}");
            }
            i += consumed;
        }
        return null;
    }

    /// <summary>The index of the first character that needs encoding, or -1 (then the text is used as it is).</summary>
    private static int FirstCandidate(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c < 0xA0)
            {
                if (c <= 0x1F || c == '%' || c >= 0x7F)
                {
                    return i;
                }
            }
            else if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                if (IsNoncharacter(char.ConvertToUtf32(c, text[i + 1])))
                {
                    return i;
                }
                i++;
            }
            else if (char.IsSurrogate(c) || IsNoncharacter(c))
            {
                return i;
            }
        }
        return -1;
    }

    private static bool MustEncode(Rune rune) => rune.Value == '%' || IsControl(rune.Value) || IsNoncharacter(rune.Value);

    private static bool IsControl(int value) => value <= 0x1F || (value >= 0x7F && value <= 0x9F);

    private static bool IsNoncharacter(int value) => (value >= 0xFDD0 && value <= 0xFDEF) || (value & 0xFFFE) == 0xFFFE;

    private static void AppendEscaped(StringBuilder builder, Rune rune, Span<byte> utf8)
    {
        var length = rune.EncodeToUtf8(utf8);
        for (var b = 0; b < length; b++)
        {
            builder.Append('%').Append(HexDigit(utf8[b] >> 4)).Append(HexDigit(utf8[b] & 0xF));
        }
    }

    private static char HexDigit(int value) => (char)(value < 10 ? '0' + value : 'A' + value - 10);
}
