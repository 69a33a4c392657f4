using System.Security.Cryptography;
using System.Text;

namespace PostgresSource.Core.Naming;

/// <summary>
/// Knative's kmeta.ChildName rule, reproduced exactly so that names made here match the ones the
/// original Go controller made (and the reverse).
/// </summary>
internal static class ChildName
{
    public const int Longest = 63;
    private const int Md5HexLength = 32;
    private const int Head = Longest - Md5HexLength; // 31

    public static string Make(string parent, string suffix)
    {
        ArgumentNullException.ThrowIfNull(parent);
        ArgumentNullException.ThrowIfNull(suffix);

        string name;
        if (parent.Length + suffix.Length <= Longest)
        {
            name = parent + suffix;
        }
        else if (Head - suffix.Length <= 0)
        {
            // The suffix alone is too long to keep: hash everything, then pad with the suffix's start.
            var prefix = parent.Length > Head ? parent[..Head] : parent;
            name = prefix + Md5Hex(parent + suffix);
            if (name.Length < Longest)
            {
                name += suffix[..Math.Min(suffix.Length, Longest - name.Length)];
            }
        }
        else
        {
            // Short suffix: keep it, shorten the parent and let the hash tell parents apart.
            name = parent[..(Head - suffix.Length)] + Md5Hex(parent) + suffix;
        }

        return TrimTrailingNonAlphanumeric(name);
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5351:Do Not Use Broken Cryptographic Algorithms",
        Justification = "Not security: the seed names objects by an MD5 suffix, and the same names let each tool manage the other's objects.")]
    private static string Md5Hex(string value) =>
        Convert.ToHexString(MD5.HashData(Encoding.UTF8.GetBytes(value))).ToLowerInvariant();

    private static string TrimTrailingNonAlphanumeric(string value)
    {
        var end = value.Length;
        while (end > 0 && !char.IsAsciiLetterOrDigit(value[end - 1]))
        {
            end--;
        }
        return value[..end];
    }
}
