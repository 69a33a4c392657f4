namespace PostgresSource.Core.Sources;

/// <summary>
/// The one place a Kubernetes UID is read. The UID names database and cluster objects (the ChildName rule), and the
/// Go controller uses it as Kubernetes writes it: lowercase, hyphenated, 8-4-4-4-12. Any other spelling of the same
/// UID (uppercase, braces, no hyphens) is turned into that form, so both controllers compute the same names.
/// </summary>
internal static class SourceUid
{
    public const string ExpectedForm = "8-4-4-4-12 hexadecimal digits, as Kubernetes writes it: 01234567-89ab-cdef-0123-456789abcdef";

    /// <summary>The canonical form of <paramref name="text"/>, or false when it is not a UID in any spelling .NET reads.</summary>
    public static bool TryNormalize(string? text, out string normal)
    {
        if (text is not null && Guid.TryParse(text, out var guid))
        {
            normal = guid.ToString("D");
            return true;
        }
        normal = string.Empty;
        return false;
    }

    /// <summary>The canonical form; throws <see cref="SourceValidationException"/> naming <paramref name="field"/> otherwise.</summary>
    public static string Normalize(string? text, string field = "uid") =>
        TryNormalize(text, out var normal)
            ? normal
            : throw new SourceValidationException(field, $"The UID '{text}' is not valid: expected {ExpectedForm}.");

    /// <summary>As <see cref="Normalize"/>, with null (no UID: a source never placed in a cluster) passed through.</summary>
    public static string? NormalizeOptional(string? text, string field = "uid") =>
        text is null ? null : Normalize(text, field);
}
