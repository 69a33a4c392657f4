namespace PostgresSource.Core.Database;

/// <summary>Quoting for the few places where a name must be part of SQL text (DDL cannot take parameters).</summary>
internal static class Sql
{
    /// <summary>
    /// The search_path every installed function is pinned to (and install runs under): only the system catalog,
    /// so no object that another role creates in a schema on a writer's path can stand in for a built-in.
    /// </summary>
    public const string PinnedSearchPath = "pg_catalog, pg_temp";

    /// <summary>How pg_proc.proconfig records <see cref="PinnedSearchPath"/>.</summary>
    internal const string PinnedSearchPathSetting = "search_path=" + PinnedSearchPath;

    /// <summary>A double-quoted identifier; embedded quotes doubled. Never fold or trust the input.</summary>
    public static string Identifier(string name)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new ArgumentException("An SQL identifier must not be empty.", nameof(name));
        }
        if (name.Contains('\0'))
        {
            throw new ArgumentException("An SQL identifier must not contain a NUL character.", nameof(name));
        }
        return "\"" + name.Replace("\"", "\"\"") + "\"";
    }

    public static string Qualified(string schema, string name) => Identifier(schema) + "." + Identifier(name);

    /// <summary>A standard-conforming string literal; embedded single quotes doubled.</summary>
    public static string Literal(string value)
    {
        if (value.Contains('\0'))
        {
            throw new ArgumentException("An SQL literal must not contain a NUL character.", nameof(value));
        }
        return "'" + value.Replace("'", "''") + "'";
    }
}
