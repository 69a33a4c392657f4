using System.Text.RegularExpressions;

namespace PostgresSource.Core.Naming;

/// <summary>
/// The names a source gives to what it creates. The seed uses one name for the PL/pgSQL function,
/// every trigger and the NOTIFY channel: ChildName("postgressource-" + name + "-", uid) with '-' turned into '_'.
/// Without a UID (a source that has never been in a cluster) the suffix is empty, which gives
/// "postgressource_&lt;name&gt;".
/// </summary>
internal static partial class SourceObjectNames
{
    public const string Prefix = "postgressource-";
    public const string DatabasePrefix = "postgressource_";

    /// <summary>The Kubernetes-style child name (with hyphens), used for cluster objects.</summary>
    /// <exception cref="Sources.SourceValidationException">The UID is not one: a name is never made from a spelling the Go controller would not use.</exception>
    public static string KubernetesName(string sourceName, string? uid) =>
        ChildName.Make(Prefix + sourceName + "-", uid is null ? string.Empty : Sources.SourceUid.Normalize(uid));

    /// <summary>The database name shared by function, triggers and channel.</summary>
    public static string DatabaseName(string sourceName, string? uid) =>
        KubernetesName(sourceName, uid).Replace('-', '_');

    /// <summary>
    /// Recovers the source name and UID from a database object name where the name is not hashed:
    /// "postgressource_&lt;name&gt;_&lt;uid with underscores&gt;" or "postgressource_&lt;name&gt;".
    /// Hashed names cannot be reversed; they return false.
    /// </summary>
    public static bool TryParseDatabaseName(string objectName, out string? sourceName, out string? uid)
    {
        sourceName = null;
        uid = null;
        if (!objectName.StartsWith(DatabasePrefix, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = objectName[DatabasePrefix.Length..];
        var match = NameWithUid().Match(rest);
        if (match.Success)
        {
            sourceName = match.Groups["name"].Value.Replace('_', '-');
            uid = match.Groups["uid"].Value.Replace('_', '-');
        }
        else if (PlainName().IsMatch(rest))
        {
            sourceName = rest.Replace('_', '-');
        }
        else
        {
            return false;
        }

        // Only accept a parse that round-trips: otherwise the name was hashed or is not ours.
        return DatabaseName(sourceName, uid) == objectName;
    }

    /// <summary>True for names this product (or the seed) could have made.</summary>
    public static bool LooksLikeSourceObject(string objectName) =>
        objectName.StartsWith(DatabasePrefix, StringComparison.Ordinal) && objectName.Length <= ChildName.Longest;

    [GeneratedRegex("^(?<name>[a-z0-9_]+)_(?<uid>[0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12})$")]
    private static partial Regex NameWithUid();

    [GeneratedRegex("^[a-z0-9_]+$")]
    private static partial Regex PlainName();
}
