using Npgsql;

namespace PostgresSource.Core.Database;

/// <summary>
/// The source's own schema, named by the source's object name (<c>postgressource_orders_&lt;uid&gt;</c>), and the
/// small state table in it that records initial-snapshot progress. Durable mode keeps its journal and
/// trigger function in the same schema; Logical mode creates the schema only when a snapshot is asked for.
/// Nothing else of the user's lives there, so uninstall removes the schema too (RESTRICT: if a user put
/// something of their own in it, the drop fails and says so instead of taking it along).
/// </summary>
internal static class SourceStateSql
{
    public const string SnapshotTable = "snapshot";
    public const string PositionTable = "position";

    public static string Schema(string name) => Sql.Identifier(name);

    public static string SnapshotQualified(string name) => Sql.Qualified(name, SnapshotTable);

    public static string CreateSchema(string name) => $"CREATE SCHEMA IF NOT EXISTS {Sql.Identifier(name)}";

    public static string DropSchema(string name) => $"DROP SCHEMA IF EXISTS {Sql.Identifier(name)} RESTRICT";

    /// <summary>One row per table and snapshot session ("segment"); segment 0 with no snapshot is a request.</summary>
    public static string CreateSnapshotTable(string name) => $"""
        CREATE TABLE IF NOT EXISTS {SnapshotQualified(name)} (
            table_schema text NOT NULL,
            table_name text NOT NULL,
            segment integer NOT NULL,
            snapshot pg_catalog.pg_snapshot,
            horizon text,
            last_key json,
            rows_read bigint NOT NULL DEFAULT 0,
            done boolean NOT NULL DEFAULT false,
            updated timestamptz NOT NULL DEFAULT pg_catalog.now(),
            PRIMARY KEY (table_schema, table_name, segment)
        )
        """;

    public static string DropSnapshotTable(string name) => $"DROP TABLE IF EXISTS {SnapshotQualified(name)}";

    public static string PositionQualified(string name) => Sql.Qualified(name, PositionTable);

    /// <summary>
    /// Logical mode: the last position the consumer acknowledged, written by the capture in its own
    /// transactions. PostgreSQL 15 keeps a slot's confirmed position across a server restart only now and then,
    /// so the capture resumes from the later of the two.
    /// </summary>
    public static string CreatePositionTable(string name) => $"""
        CREATE TABLE IF NOT EXISTS {PositionQualified(name)} (
            only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
            confirmed_lsn pg_catalog.pg_lsn NOT NULL,
            updated timestamptz NOT NULL DEFAULT pg_catalog.now()
        )
        """;

    public static string DropPositionTable(string name) => $"DROP TABLE IF EXISTS {PositionQualified(name)}";

    public static string RequestSnapshot(string name, string tableSchema, string tableName) =>
        $"INSERT INTO {SnapshotQualified(name)} (table_schema, table_name, segment) " +
        $"VALUES ({Sql.Literal(tableSchema)}, {Sql.Literal(tableName)}, 0) ON CONFLICT DO NOTHING";

    /// <summary>
    /// Asks for a table to be read again from its first row (a backfill): its earlier snapshot progress goes and a new
    /// request row takes its place; its time (updated) tells a running capture the request is new.
    /// </summary>
    public static string RequestBackfill(string name, string tableSchema, string tableName) =>
        $"DELETE FROM {SnapshotQualified(name)} WHERE table_schema = {Sql.Literal(tableSchema)} AND table_name = {Sql.Literal(tableName)};\n" +
        $"INSERT INTO {SnapshotQualified(name)} (table_schema, table_name, segment, updated) " +
        $"VALUES ({Sql.Literal(tableSchema)}, {Sql.Literal(tableName)}, 0, pg_catalog.clock_timestamp())";

    public static async Task<bool> SchemaExistsAsync(NpgsqlConnection connection, string name, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = @name)", connection);
        command.Parameters.AddWithValue("name", name);
        return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    public static async Task<bool> TableExistsAsync(NpgsqlConnection connection, string schema, string table, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                           WHERE n.nspname = @schema AND c.relname = @table AND c.relkind IN ('r', 'p'))
            """, connection);
        command.Parameters.AddWithValue("schema", schema);
        command.Parameters.AddWithValue("table", table);
        return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>Tables (schema, name) that already have a snapshot row (requested, running or done).</summary>
    public static async Task<HashSet<(string Schema, string Table)>> TablesWithSnapshotRowsAsync(
        NpgsqlConnection connection, string name, CancellationToken cancellationToken)
    {
        var tables = new HashSet<(string, string)>();
        if (!await TableExistsAsync(connection, name, SnapshotTable, cancellationToken).ConfigureAwait(false))
        {
            return tables;
        }
        await using var command = new NpgsqlCommand($"SELECT DISTINCT table_schema, table_name FROM {SnapshotQualified(name)}", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            tables.Add((reader.GetString(0), reader.GetString(1)));
        }
        return tables;
    }

    /// <summary>Plans the state tables and the snapshot requests (Durable: snapshot table; Logical: position table, and the snapshot table with -Snapshot).</summary>
    public static async Task<IReadOnlyList<SchemaChange>> PlanStateAsync(
        NpgsqlConnection connection, string name, IReadOnlyList<ResolvedTable> tables, bool snapshot, bool schemaPlanned,
        CancellationToken cancellationToken, bool snapshotTable = true, bool positionTable = false)
    {
        var changes = new List<SchemaChange>();
        var schemaExists = await SchemaExistsAsync(connection, name, cancellationToken).ConfigureAwait(false);
        if (!schemaExists && !schemaPlanned)
        {
            changes.Add(new SchemaChange(SchemaChangeKind.CreateSchema, name, CreateSchema(name)));
        }
        if (positionTable && !(schemaExists && await TableExistsAsync(connection, name, PositionTable, cancellationToken).ConfigureAwait(false)))
        {
            changes.Add(new SchemaChange(SchemaChangeKind.CreateTable, $"{name}.{PositionTable}", CreatePositionTable(name)));
        }
        var tableExists = schemaExists && await TableExistsAsync(connection, name, SnapshotTable, cancellationToken).ConfigureAwait(false);
        if (!tableExists && (snapshotTable || snapshot))
        {
            changes.Add(new SchemaChange(SchemaChangeKind.CreateTable, $"{name}.{SnapshotTable}", CreateSnapshotTable(name)));
        }
        if (snapshot)
        {
            var requested = tableExists
                ? await TablesWithSnapshotRowsAsync(connection, name, cancellationToken).ConfigureAwait(false)
                : [];
            foreach (var table in tables.Where(t => !requested.Contains((t.Schema, t.Name))))
            {
                changes.Add(new SchemaChange(SchemaChangeKind.RequestSnapshot, table.ToString(), RequestSnapshot(name, table.Schema, table.Name)));
            }
        }
        return changes;
    }

    /// <summary>Plans the removal of the state table and the schema, when they exist. Marked as source state (a mode switch between Durable and Logical keeps them).</summary>
    public static async Task<IReadOnlyList<SchemaChange>> PlanDropAsync(NpgsqlConnection connection, string name, CancellationToken cancellationToken)
    {
        var changes = new List<SchemaChange>();
        if (!await SchemaExistsAsync(connection, name, cancellationToken).ConfigureAwait(false))
        {
            return changes;
        }
        if (await TableExistsAsync(connection, name, SnapshotTable, cancellationToken).ConfigureAwait(false))
        {
            changes.Add(new SchemaChange(SchemaChangeKind.DropTable, $"{name}.{SnapshotTable}", DropSnapshotTable(name)) { SourceState = true });
        }
        if (await TableExistsAsync(connection, name, PositionTable, cancellationToken).ConfigureAwait(false))
        {
            changes.Add(new SchemaChange(SchemaChangeKind.DropTable, $"{name}.{PositionTable}", DropPositionTable(name)) { SourceState = true });
        }
        changes.Add(new SchemaChange(SchemaChangeKind.DropSchema, name, DropSchema(name)) { SourceState = true });
        return changes;
    }
}
