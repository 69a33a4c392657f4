using Npgsql;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture.Snapshots;

/// <summary>
/// A table as the snapshot reads it: in primary-key order, so an interrupted snapshot can continue after
/// the last key it emitted. A table without a primary key is read in one piece (an interruption restarts it).
/// </summary>
internal sealed class SnapshotTable
{
    public SnapshotTable(string schema, string name, IReadOnlyList<string> keyColumns, long? estimatedRows)
    {
        Schema = schema;
        Name = name;
        KeyColumns = keyColumns;
        EstimatedRows = estimatedRows;
        Qualified = Sql.Qualified(schema, name);
    }

    public string Schema { get; }
    public string Name { get; }
    public string Qualified { get; }
    public IReadOnlyList<string> KeyColumns { get; }
    public long? EstimatedRows { get; }
    public bool Resumable => KeyColumns.Count > 0;
    public (string, string) Key => (Schema, Name);

    public override string ToString() => $"{Schema}.{Name}";

    public static async Task<SnapshotTable> LoadAsync(NpgsqlConnection connection, ResolvedTable table, CancellationToken cancellationToken)
    {
        const string query = """
            SELECT a.attname
            FROM pg_catalog.pg_index i
            CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
            JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            WHERE i.indrelid = @oid AND i.indisprimary
            ORDER BY k.position
            """;
        var columns = new List<string>();
        await using (var command = new NpgsqlCommand(query, connection))
        {
            command.Parameters.AddWithValue("oid", NpgsqlTypes.NpgsqlDbType.Oid, table.Oid);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                columns.Add(reader.GetString(0));
            }
        }
        long? estimate;
        await using (var command = new NpgsqlCommand("SELECT reltuples::bigint FROM pg_catalog.pg_class WHERE oid = @oid", connection))
        {
            command.Parameters.AddWithValue("oid", NpgsqlTypes.NpgsqlDbType.Oid, table.Oid);
            var value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            estimate = value is long n && n >= 0 ? n : null;
        }
        return new SnapshotTable(table.Schema, table.Name, columns, estimate);
    }

    /// <summary>json_build_object of the key columns: the key as the snapshot records it.</summary>
    public string KeyJsonExpression(string alias) =>
        "json_build_object(" + string.Join(", ", KeyColumns.Select(c => $"{Sql.Literal(c)}, {alias}.{Sql.Identifier(c)}")) + ")::text";

    public string OrderBy(string alias) => string.Join(", ", KeyColumns.Select(c => $"{alias}.{Sql.Identifier(c)}"));

    /// <summary>The rows in key order, after the key given as JSON in parameter $1 when <paramref name="after"/>.</summary>
    public string SelectSql(bool after)
    {
        var select = new System.Text.StringBuilder("SELECT row_to_json(t)::text");
        select.Append(Resumable ? ", " + KeyJsonExpression("t") : ", NULL::text");
        select.Append(" FROM ONLY ").Append(Qualified).Append(" AS t");
        if (Resumable && after)
        {
            // Typed values from the JSON key via the table's own row type: same types and collations as the columns,
            // and each a constant for the planner, so the primary-key index serves the row comparison.
            var bound = string.Join(", ", KeyColumns.Select(c =>
                $"(SELECT b.{Sql.Identifier(c)} FROM json_populate_record(NULL::{Qualified}, $1::json) AS b)"));
            select.Append(" WHERE ROW(").Append(OrderBy("t")).Append(") > ROW(").Append(bound).Append(')');
        }
        if (Resumable)
        {
            select.Append(" ORDER BY ").Append(OrderBy("t"));
        }
        return select.ToString();
    }

    /// <summary>
    /// Counts how many of the boundary keys ($2, a json[] in increasing order) lie below the key ($1, a row
    /// or key as JSON): which snapshot segment read that key.
    /// </summary>
    public string SegmentOfKeySql()
    {
        var left = string.Join(", ", KeyColumns.Select(c => $"k.{Sql.Identifier(c)}"));
        var right = string.Join(", ", KeyColumns.Select(c => $"bb.{Sql.Identifier(c)}"));
        return $"SELECT count(*)::int FROM json_populate_record(NULL::{Qualified}, $1::json) AS k, " +
               $"unnest($2::json[]) AS u(b), LATERAL json_populate_record(NULL::{Qualified}, u.b) AS bb " +
               $"WHERE ROW({left}) > ROW({right})";
    }
}
