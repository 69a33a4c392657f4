using Npgsql;
using PostgresSource.Core.Connections;

namespace PostgresSource.Core.Database;

/// <summary>Quick catalog look-ups for tab completion: bounded in time and rows, never throwing at the user.</summary>
internal static class CatalogBrowser
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(3);

    /// <summary>User tables whose name (or schema.name) starts with the prefix, as the user would type them.</summary>
    public static async Task<IReadOnlyList<string>> TablesAsync(ConnectionSettings connection, string prefix, CancellationToken cancellationToken = default)
    {
        const string query = """
            SELECT n.nspname, c.relname, n.nspname = ANY(pg_catalog.current_schemas(false)) AS visible
            FROM pg_catalog.pg_class c
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p')
              AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
              AND (c.relname LIKE @prefix || '%' OR (n.nspname || '.' || c.relname) LIKE @prefix || '%')
            ORDER BY 3 DESC, 1, 2
            LIMIT 200
            """;
        var tables = new List<string>();
        await QueryAsync(connection, query, prefix, reader =>
        {
            var schema = reader.GetString(0);
            var name = reader.GetString(1);
            var visible = reader.GetBoolean(2);
            tables.Add(visible && !prefix.Contains('.') ? Quote(name) : Quote(schema) + "." + Quote(name));
        }, cancellationToken).ConfigureAwait(false);
        return tables;
    }

    /// <summary>Names of sources installed in the database (readable names only).</summary>
    public static async Task<IReadOnlyList<string>> SourceNamesAsync(ConnectionSettings connection, string prefix, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Budget);
        var rows = await TriggerInspector.ListAsync(connection, timeout.Token).ConfigureAwait(false);
        return rows.Select(r => r.SourceName).OfType<string>()
            .Where(n => n.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            .Distinct().Order().ToList();
    }

    /// <summary>Quotes a name only when typing it plainly would not find it.</summary>
    private static string Quote(string name) =>
        name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_') && !char.IsAsciiDigit(name[0])
            ? name
            : "\"" + name.Replace("\"", "\"\"") + "\"";

    private static async Task QueryAsync(ConnectionSettings connection, string sql, string prefix, Action<NpgsqlDataReader> read, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Budget);
        var builder = connection.ToBuilder();
        builder.Timeout = (int)Budget.TotalSeconds;
        await using var npgsql = new NpgsqlConnection(builder.ConnectionString);
        await npgsql.OpenAsync(timeout.Token).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, npgsql);
        command.Parameters.AddWithValue("prefix", prefix.Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_"));
        await using var reader = await command.ExecuteReaderAsync(timeout.Token).ConfigureAwait(false);
        while (await reader.ReadAsync(timeout.Token).ConfigureAwait(false))
        {
            read(reader);
        }
    }
}
