using Npgsql;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Database;

/// <summary>
/// The tables of a source as an install plans them: resolved, each with its filter and, for a filtered table, its
/// columns; every filter checked against the table it names, so a mistyped column or a row condition PostgreSQL
/// rejects is a clear error before anything is changed.
/// </summary>
internal static class SourceFilters
{
    /// <param name="check">
    /// Check each filter against its table (inside the install's transaction: the check uses a savepoint); a capture
    /// starting up only needs the filters attached.
    /// </param>
    public static async Task<IReadOnlyList<ResolvedTable>> ResolveAsync(
        NpgsqlConnection connection, SourceDefinition source, CancellationToken cancellationToken, bool check = true)
    {
        var tables = new List<ResolvedTable>();
        var named = await TableResolver.ResolveNamedAsync(connection, source.Tables, cancellationToken).ConfigureAwait(false);
        foreach (var group in named.GroupBy(n => n.Table))
        {
            var table = group.Key;
            // The filter of whichever name of the source finds this table.
            if (group.Select(n => source.FilterFor(n.Name)).FirstOrDefault(f => f is not null) is not { } filter)
            {
                tables.Add(table);
                continue;
            }
            // Only install plans need the columns (checks, and the WHEN clauses' qualified names).
            IReadOnlyList<string> columns = check ? await ColumnsAsync(connection, table.Oid, cancellationToken).ConfigureAwait(false) : [];
            if (check)
            {
                CheckColumns(table, filter, columns);
            }
            if (check && filter.Where is not null)
            {
                await CheckConditionAsync(connection, table, filter.Where, cancellationToken).ConfigureAwait(false);
            }
            tables.Add(table with { Filter = filter, Columns = columns });
        }
        return tables;
    }

    private static async Task<IReadOnlyList<string>> ColumnsAsync(NpgsqlConnection connection, uint table, CancellationToken cancellationToken)
    {
        const string query = """
            SELECT attname FROM pg_catalog.pg_attribute
            WHERE attrelid = @table AND attnum > 0 AND NOT attisdropped ORDER BY attnum
            """;
        await using var command = new NpgsqlCommand(query, connection);
        command.Parameters.AddWithValue("table", NpgsqlTypes.NpgsqlDbType.Oid, table);
        var columns = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            columns.Add(reader.GetString(0));
        }
        return columns;
    }

    private static void CheckColumns(ResolvedTable table, TableFilter filter, IReadOnlyList<string> columns)
    {
        var unknown = filter.IncludeColumns.Concat(filter.ExcludeColumns).Concat(filter.MaskColumns)
            .Where(c => !columns.Contains(c)).Distinct().ToList();
        if (unknown.Count > 0)
        {
            throw new TableFilterException(table,
                $"names {(unknown.Count == 1 ? "a column" : "columns")} the table does not have: {string.Join(", ", unknown)} " +
                $"(its columns: {string.Join(", ", columns)})");
        }
    }

    /// <summary>
    /// Asks PostgreSQL to plan (never run) a query with the condition, inside a savepoint so that a rejected condition
    /// leaves the install's transaction usable for the error report.
    /// </summary>
    private static async Task CheckConditionAsync(NpgsqlConnection connection, ResolvedTable table, string condition, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, "SAVEPOINT pgsource_filter_check", cancellationToken).ConfigureAwait(false);
        try
        {
            await ExecuteAsync(connection, $"EXPLAIN SELECT FROM {table.Qualified} WHERE ({condition})", cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex)
        {
            await ExecuteAsync(connection, "ROLLBACK TO SAVEPOINT pgsource_filter_check", cancellationToken).ConfigureAwait(false);
            throw new TableFilterException(table, $"has a row condition PostgreSQL rejects: {ex.MessageText}");
        }
        await ExecuteAsync(connection, "RELEASE SAVEPOINT pgsource_filter_check", cancellationToken).ConfigureAwait(false);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>A table's filter does not fit the table (a column it lacks, a condition PostgreSQL rejects); nothing was changed.</summary>
internal sealed class TableFilterException(ResolvedTable table, string problem)
    : Exception($"The filter of table '{table}' {problem}. Nothing was changed.");
