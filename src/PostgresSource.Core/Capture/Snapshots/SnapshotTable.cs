using Npgsql;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture.Snapshots;

/// <summary>
/// A table as the snapshot reads it: in primary-key order, so an interrupted snapshot can continue after
/// the last key it emitted. A table without a primary key is read in one piece (an interruption restarts it).
/// </summary>
/// <remarks>
/// The snapshot runs with the listener's rights, often greater than the table owner's, so its SQL must not run
/// code the owner can define: a cast to json (row_to_json calls one for a non-built-in type), a domain's CHECK
/// (json_populate_record runs one for every field), a row-security policy. Hence: columns of non-built-in types
/// go out in their text form (their output function, which only a superuser can write); key values come back
/// from JSON through built-in casts to built-in types only; a key of a non-built-in type makes the table
/// non-resumable; and the snapshot transaction turns row security off, so a policy never runs (a table that
/// would need one fails with PostgreSQL's error instead of being read partly).
/// </remarks>
internal sealed class SnapshotTable
{
    public SnapshotTable(string schema, string name, IReadOnlyList<SnapshotColumn> columns, IReadOnlyList<string> keyColumns, long? estimatedRows, bool partitioned = false)
    {
        Partitioned = partitioned;
        Schema = schema;
        Name = name;
        Columns = columns;
        KeyColumns = keyColumns;
        EstimatedRows = estimatedRows;
        Qualified = Sql.Qualified(schema, name);
        var byName = columns.ToDictionary(c => c.Name, StringComparer.Ordinal);
        // Resuming compares keys typed from JSON: only possible without calling the owner's code when every key
        // column has a built-in type (a domain counts as its base type).
        Resumable = keyColumns.Count > 0 && keyColumns.All(k => byName.TryGetValue(k, out var c) && c.BuiltIn);
        _keyTypes = Resumable ? keyColumns.ToDictionary(k => k, k => byName[k].BaseTypeSql, StringComparer.Ordinal) : new Dictionary<string, string>();
    }

    private readonly IReadOnlyDictionary<string, string> _keyTypes;

    /// <summary>The table's filter: a snapshot reads only the rows its condition takes, with its columns.</summary>
    public Sources.TableFilter? Filter { get; init; }

    public string Schema { get; }
    public string Name { get; }
    public string Qualified { get; }
    public IReadOnlyList<SnapshotColumn> Columns { get; }
    public IReadOnlyList<string> KeyColumns { get; }
    public long? EstimatedRows { get; }
    /// <summary>A partitioned table: its rows live in its partitions, so it is read with them (not ONLY).</summary>
    public bool Partitioned { get; }
    public bool Resumable { get; }
    public (string, string) Key => (Schema, Name);

    public override string ToString() => $"{Schema}.{Name}";

    /// <summary>Statement for the snapshot transaction: no row-security policy (owner-written SQL) runs in the listener's session.</summary>
    public const string NoRowSecuritySql = "SET LOCAL row_security = off";

    public static async Task<SnapshotTable> LoadAsync(NpgsqlConnection connection, ResolvedTable table, CancellationToken cancellationToken)
    {
        // Each column with the type its JSON comes from: a domain (also a domain over a domain) counts as its base type.
        const string columnsQuery = """
            WITH RECURSIVE base(attnum, typid, depth) AS (
                SELECT a.attnum, a.atttypid, 0
                FROM pg_catalog.pg_attribute a
                WHERE a.attrelid = @oid AND a.attnum > 0 AND NOT a.attisdropped
                UNION ALL
                SELECT b.attnum, t.typbasetype, b.depth + 1
                FROM base b JOIN pg_catalog.pg_type t ON t.oid = b.typid
                WHERE t.typtype = 'd')
            SELECT a.attname, b.typid, pg_catalog.format_type(b.typid, NULL)
            FROM base b
            JOIN pg_catalog.pg_attribute a ON a.attrelid = @oid AND a.attnum = b.attnum
            JOIN pg_catalog.pg_type t ON t.oid = b.typid
            WHERE t.typtype <> 'd'
            ORDER BY a.attnum
            """;
        var columns = new List<SnapshotColumn>();
        await using (var command = new NpgsqlCommand(columnsQuery, connection))
        {
            command.Parameters.AddWithValue("oid", NpgsqlTypes.NpgsqlDbType.Oid, table.Oid);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                columns.Add(new SnapshotColumn(reader.GetString(0), SnapshotColumn.IsBuiltInType(reader.GetFieldValue<uint>(1)), reader.GetString(2)));
            }
        }
        const string keyQuery = """
            SELECT a.attname
            FROM pg_catalog.pg_index i
            CROSS JOIN LATERAL pg_catalog.unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
            JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            WHERE i.indrelid = @oid AND i.indisprimary
            ORDER BY k.position
            """;
        var keys = new List<string>();
        await using (var command = new NpgsqlCommand(keyQuery, connection))
        {
            command.Parameters.AddWithValue("oid", NpgsqlTypes.NpgsqlDbType.Oid, table.Oid);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                keys.Add(reader.GetString(0));
            }
        }
        long? estimate = null;
        var partitioned = false;
        // A partitioned table's own reltuples says nothing: its estimate is the sum of its leaf partitions'.
        const string sizeQuery = """
            SELECT c.relkind = 'p',
                   CASE WHEN c.relkind = 'p'
                        THEN (SELECT pg_catalog.sum(GREATEST(l.reltuples, 0))::bigint FROM pg_catalog.pg_partition_tree(c.oid) AS p
                              JOIN pg_catalog.pg_class l ON l.oid = p.relid WHERE p.isleaf)
                        ELSE c.reltuples::bigint END
            FROM pg_catalog.pg_class c WHERE c.oid = @oid
            """;
        await using (var command = new NpgsqlCommand(sizeQuery, connection))
        {
            command.Parameters.AddWithValue("oid", NpgsqlTypes.NpgsqlDbType.Oid, table.Oid);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                partitioned = reader.GetBoolean(0);
                estimate = reader.IsDBNull(1) ? null : reader.GetInt64(1) is var n && n >= 0 ? n : null;
            }
        }
        return new SnapshotTable(table.Schema, table.Name, columns, keys, estimate, partitioned) { Filter = table.Filter };
    }

    /// <summary>json_build_object of the key columns: the key as the snapshot records it (built-in types only, see Resumable).</summary>
    public string KeyJsonExpression(string alias) =>
        "pg_catalog.json_build_object(" + string.Join(", ", KeyColumns.Select(c => $"{Sql.Literal(c)}, {alias}.{Sql.Identifier(c)}")) + ")::text";

    public string OrderBy(string alias) => string.Join(", ", KeyColumns.Select(c => $"{alias}.{Sql.Identifier(c)}"));

    /// <summary>A key column's value from the JSON key in <paramref name="json"/>, through a built-in cast to its built-in base type.</summary>
    private string KeyValue(string json, string column) =>
        $"({json} OPERATOR(pg_catalog.->>) {Sql.Literal(column)})::{_keyTypes[column]}";

    /// <summary>The rows in key order, after the key given as JSON in parameter $1 when <paramref name="after"/>.</summary>
    public string SelectSql(bool after)
    {
        // The inner select renders each column safely (see the remarks); row_to_json of that record meets only built-in types.
        var rendered = string.Join(", ", Columns.Select(c => c.SelectExpression("t") + " AS " + Sql.Identifier(c.Name)));
        var inner = new System.Text.StringBuilder("SELECT ").Append(rendered)
            .Append(Partitioned ? " FROM " : " FROM ONLY ").Append(Qualified).Append(" AS t");
        if (Resumable && after)
        {
            // Each bound a constant of the column's own base type, so the primary-key index serves the row comparison.
            var bound = string.Join(", ", KeyColumns.Select(c => KeyValue("$1::pg_catalog.json", c)));
            inner.Append(" WHERE ROW(").Append(OrderBy("t")).Append(") > ROW(").Append(bound).Append(')');
        }
        if (Filter?.Where is { } condition)
        {
            // The condition names the table's columns bare, which here are t's (checked at install).
            inner.Append(Resumable && after ? " AND (" : " WHERE (").Append(condition).Append(')');
        }
        if (Resumable)
        {
            inner.Append(" ORDER BY ").Append(OrderBy("t"));
        }
        var select = new System.Text.StringBuilder("SELECT pg_catalog.row_to_json(s)::text");
        select.Append(Resumable ? ", " + KeyJsonExpression("s") : ", NULL::text");
        select.Append(" FROM (").Append(inner).Append(") AS s");
        if (Resumable)
        {
            select.Append(" ORDER BY ").Append(OrderBy("s"));
        }
        return select.ToString();
    }

    /// <summary>
    /// Counts how many of the boundary keys ($2, a json[] in increasing order) lie below the key ($1, a row
    /// or key as JSON): which snapshot segment read that key. Only for resumable tables.
    /// </summary>
    public string SegmentOfKeySql()
    {
        var left = string.Join(", ", KeyColumns.Select(c => KeyValue("$1::pg_catalog.json", c)));
        var right = string.Join(", ", KeyColumns.Select(c => KeyValue("u.b", c)));
        return $"SELECT pg_catalog.count(*)::int FROM pg_catalog.unnest($2::pg_catalog.json[]) AS u(b) WHERE ROW({left}) > ROW({right})";
    }
}

/// <summary>A column as the snapshot renders it.</summary>
/// <param name="BuiltIn">Its type (a domain's base type) is built into PostgreSQL, so its JSON form runs no one's code.</param>
/// <param name="BaseTypeSql">The base type as SQL (format_type), for typing a key value read back from JSON.</param>
internal sealed record SnapshotColumn(string Name, bool BuiltIn, string BaseTypeSql)
{
    /// <summary>PostgreSQL's first OID for objects created after initdb (FirstNormalObjectId): below it, built-in.</summary>
    private const uint FirstNormalObjectId = 16384;

    public static bool IsBuiltInType(uint oid) => oid < FirstNormalObjectId;

    /// <summary>
    /// The column itself when built-in; otherwise its text form by its output function (format's %s), never a cast
    /// (an owner may define a cast from their type to json or text). NULL stays NULL (num_nulls sees the datum itself).
    /// </summary>
    public string SelectExpression(string alias)
    {
        var column = alias + "." + Sql.Identifier(Name);
        return BuiltIn
            ? column
            : $"CASE WHEN pg_catalog.num_nulls({column}) = 1 THEN NULL ELSE pg_catalog.format('%s', {column}) END";
    }
}
