using Npgsql;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Database;

/// <summary>
/// Finds the tables a source names, with parameters only. An unqualified name is looked up along the
/// search_path, as PostgreSQL would; a name is matched exactly first and then folded to lower case,
/// so "Orders" finds a table created as orders, and "MyTable" finds one created as "MyTable".
/// </summary>
internal static class TableResolver
{
    private const string Query = """
        SELECT n.nspname, c.relname, c.oid, c.relkind = 'p'
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p')
          AND c.relname = ANY(@names)
          AND (CASE WHEN @schema IS NULL THEN n.nspname = ANY(pg_catalog.current_schemas(false))
                    ELSE n.nspname = ANY(@schemas) END)
        ORDER BY c.relname = @exact DESC,
                 n.nspname = @schema DESC,
                 array_position(pg_catalog.current_schemas(false), n.nspname::text)
        LIMIT 1
        """;

    public static async Task<IReadOnlyList<ResolvedTable>> ResolveAllAsync(
        NpgsqlConnection connection, IEnumerable<TableName> tables, CancellationToken cancellationToken = default) =>
        (await ResolveNamedAsync(connection, tables, cancellationToken).ConfigureAwait(false)).Select(t => t.Table).Distinct().ToList();

    /// <summary>Each name with the table it resolves to, in order (two names may find one table).</summary>
    /// <exception cref="MissingTablesException">A table does not exist; all that are missing are named.</exception>
    public static async Task<IReadOnlyList<(TableName Name, ResolvedTable Table)>> ResolveNamedAsync(
        NpgsqlConnection connection, IEnumerable<TableName> tables, CancellationToken cancellationToken = default)
    {
        var resolved = new List<(TableName, ResolvedTable)>();
        var missing = new List<string>();
        foreach (var table in tables)
        {
            var found = await ResolveAsync(connection, table, cancellationToken).ConfigureAwait(false);
            if (found is null)
            {
                missing.Add(table.ToString());
            }
            else
            {
                resolved.Add((table, found));
            }
        }
        if (missing.Count > 0)
        {
            throw new MissingTablesException(missing);
        }
        return resolved;
    }

    public static async Task<ResolvedTable?> ResolveAsync(
        NpgsqlConnection connection, TableName table, CancellationToken cancellationToken = default)
    {
        await using var command = new NpgsqlCommand(Query, connection);
        command.Parameters.AddWithValue("names", new[] { table.Name, table.Name.ToLowerInvariant() });
        command.Parameters.AddWithValue("exact", table.Name);
        command.Parameters.Add(new NpgsqlParameter("schema", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)table.Schema ?? DBNull.Value });
        command.Parameters.AddWithValue("schemas",
            table.Schema is null ? Array.Empty<string>() : new[] { table.Schema, table.Schema.ToLowerInvariant() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }
        return new ResolvedTable(reader.GetString(0), reader.GetString(1), reader.GetFieldValue<uint>(2), reader.GetBoolean(3));
    }
}
