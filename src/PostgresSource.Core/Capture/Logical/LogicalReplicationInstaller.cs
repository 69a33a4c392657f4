using Npgsql;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture.Logical;

/// <summary>
/// Logical mode: no triggers; a publication for the source's tables and a persistent pgoutput slot,
/// both named by the object name; REPLICA IDENTITY FULL where asked for (or where a table has no identity
/// at all, because a published table without one rejects UPDATE and DELETE: a user's write would fail);
/// the source's state schema with the acknowledged-position table (and the snapshot table when a snapshot is
/// asked for). The slot is created after the rest commits.
/// Uninstall drops the slot (ending a walsender still attached to it), the publication and the state;
/// it leaves replica identity settings as they are, since they are a property of the user's table.
/// </summary>
internal sealed class LogicalReplicationInstaller : ICaptureInstaller
{
    public CaptureMode Mode => CaptureMode.Logical;

    public async Task<IReadOnlyList<SchemaChange>> PlanInstallAsync(
        NpgsqlConnection connection, SourceDefinition source, IReadOnlyList<ResolvedTable> tables,
        InstallOptions options, CancellationToken cancellationToken)
    {
        await LogicalPrerequisites.CheckAsync(connection, cancellationToken).ConfigureAwait(false);
        var name = source.DatabaseObjectName;
        // The slot is created after the publication commits: a name the server would refuse must be caught now.
        if (!LogicalReplicationSql.IsValidSlotName(name))
        {
            throw new SourceValidationException("name", $"'{name}' cannot name a replication slot (at most 63 lowercase letters, digits and '_').");
        }
        var changes = new List<SchemaChange>();

        foreach (var table in tables)
        {
            var (identity, hasPrimaryKey) = await ReplicaIdentityAsync(connection, table.Oid, cancellationToken).ConfigureAwait(false);
            if (identity == 'f')
            {
                continue;
            }
            var noIdentity = identity == 'n' || (identity == 'd' && !hasPrimaryKey);
            if (options.ReplicaIdentityFull || noIdentity)
            {
                changes.Add(new SchemaChange(SchemaChangeKind.AlterTable,
                    table + (noIdentity && !options.ReplicaIdentityFull ? " (replica identity full: the table has no primary key)" : " (replica identity full)"),
                    LogicalReplicationSql.ReplicaIdentityFull(table.Qualified)));
            }
        }

        var published = await PublicationTablesAsync(connection, name, cancellationToken).ConfigureAwait(false);
        var wanted = tables.Select(t => t.Qualified).ToList();
        var viaRoot = tables.Any(t => t.Partitioned);
        if (published is null)
        {
            changes.Add(new SchemaChange(SchemaChangeKind.CreatePublication, name, LogicalReplicationSql.CreatePublication(name, wanted, viaRoot)));
        }
        else
        {
            if (!published.SetEquals(tables.Select(t => t.Oid)))
            {
                changes.Add(new SchemaChange(SchemaChangeKind.AlterPublication, name, LogicalReplicationSql.SetPublicationTables(name, wanted)));
            }
            if (viaRoot && !await PublishesViaRootAsync(connection, name, cancellationToken).ConfigureAwait(false))
            {
                changes.Add(new SchemaChange(SchemaChangeKind.AlterPublication, name + " (publish via partition root)", LogicalReplicationSql.PublishViaPartitionRoot(name)));
            }
        }

        changes.AddRange(await SourceStateSql.PlanStateAsync(connection, name, tables, options.Snapshot, schemaPlanned: false, cancellationToken,
            snapshotTable: false, positionTable: true).ConfigureAwait(false));

        var slot = await FindSlotAsync(connection, name, cancellationToken).ConfigureAwait(false);
        if (slot is null)
        {
            changes.Add(new SchemaChange(SchemaChangeKind.CreateSlot, name, LogicalReplicationSql.CreateSlot(name)) { OutsideTransaction = true });
        }
        else if (slot.Value.Plugin != LogicalReplicationSql.Plugin || !slot.Value.InThisDatabase)
        {
            throw new LogicalReplicationUnavailableException(
                $"A replication slot named '{name}' already exists " +
                (slot.Value.InThisDatabase ? $"with output plugin '{slot.Value.Plugin}'" : $"in database '{slot.Value.Database}'") +
                ", so this source cannot use it. Drop it (SELECT pg_drop_replication_slot(...)) if it is left over, or give the source another name or UID.");
        }
        return changes;
    }

    public async Task<IReadOnlyList<SchemaChange>> PlanUninstallAsync(
        NpgsqlConnection connection, SourceDefinition source, CancellationToken cancellationToken)
    {
        var name = source.DatabaseObjectName;
        var changes = new List<SchemaChange>();
        if (await PublicationTablesAsync(connection, name, cancellationToken).ConfigureAwait(false) is not null)
        {
            changes.Add(new SchemaChange(SchemaChangeKind.DropPublication, name, LogicalReplicationSql.DropPublication(name)));
        }
        var slot = await FindSlotAsync(connection, name, cancellationToken).ConfigureAwait(false);
        if (slot is { InThisDatabase: true })
        {
            changes.Add(new SchemaChange(SchemaChangeKind.DropSlot, name, LogicalReplicationSql.DropSlot(name)) { OutsideTransaction = true });
        }
        changes.AddRange(await SourceStateSql.PlanDropAsync(connection, name, cancellationToken).ConfigureAwait(false));
        return changes;
    }

    public IReadOnlyList<SchemaChange> ScriptInstall(SourceDefinition source, InstallOptions options)
    {
        var name = source.DatabaseObjectName;
        var tables = source.Tables.Select(QualifiedAsWritten).ToList();
        var changes = new List<SchemaChange>();
        if (options.ReplicaIdentityFull)
        {
            changes.AddRange(source.Tables.Select(t => new SchemaChange(SchemaChangeKind.AlterTable, t + " (replica identity full)",
                LogicalReplicationSql.ReplicaIdentityFull(QualifiedAsWritten(t)))));
        }
        changes.Add(new SchemaChange(SchemaChangeKind.CreatePublication, name, LogicalReplicationSql.EnsurePublication(name, tables)));
        changes.Add(new SchemaChange(SchemaChangeKind.CreateSchema, name, SourceStateSql.CreateSchema(name)));
        changes.Add(new SchemaChange(SchemaChangeKind.CreateTable, $"{name}.{SourceStateSql.PositionTable}", SourceStateSql.CreatePositionTable(name)));
        if (options.Snapshot)
        {
            changes.Add(new SchemaChange(SchemaChangeKind.CreateTable, $"{name}.{SourceStateSql.SnapshotTable}", SourceStateSql.CreateSnapshotTable(name)));
            changes.AddRange(source.Tables.Select(t => new SchemaChange(SchemaChangeKind.RequestSnapshot, t.ToString(),
                SourceStateSql.RequestSnapshot(name, t.Schema ?? "public", t.Name))));
        }
        changes.Add(new SchemaChange(SchemaChangeKind.CreateSlot, name, LogicalReplicationSql.CreateSlot(name)) { OutsideTransaction = true });
        return changes;
    }

    public IReadOnlyList<SchemaChange> ScriptUninstall(SourceDefinition source, InstallOptions options)
    {
        var name = source.DatabaseObjectName;
        return
        [
            new SchemaChange(SchemaChangeKind.DropPublication, name, LogicalReplicationSql.DropPublication(name)),
            new SchemaChange(SchemaChangeKind.DropTable, $"{name}.{SourceStateSql.SnapshotTable}", SourceStateSql.DropSnapshotTable(name)),
            new SchemaChange(SchemaChangeKind.DropTable, $"{name}.{SourceStateSql.PositionTable}", SourceStateSql.DropPositionTable(name)),
            new SchemaChange(SchemaChangeKind.DropSchema, name, SourceStateSql.DropSchema(name)),
            new SchemaChange(SchemaChangeKind.DropSlot, name, LogicalReplicationSql.DropSlot(name)) { OutsideTransaction = true },
        ];
    }

    internal readonly record struct SlotInfo(string Plugin, string? Database, bool InThisDatabase, bool Active);

    internal static async Task<SlotInfo?> FindSlotAsync(NpgsqlConnection connection, string name, CancellationToken cancellationToken)
    {
        const string query = """
            SELECT coalesce(plugin, ''), database, database = pg_catalog.current_database(), active
            FROM pg_catalog.pg_replication_slots WHERE slot_name = @name
            """;
        await using var command = new NpgsqlCommand(query, connection);
        command.Parameters.AddWithValue("name", name);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }
        return new SlotInfo(reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1),
            !reader.IsDBNull(2) && reader.GetBoolean(2), reader.GetBoolean(3));
    }

    /// <summary>The oids of the publication's tables, or null when there is no such publication.</summary>
    internal static async Task<HashSet<uint>?> PublicationTablesAsync(NpgsqlConnection connection, string name, CancellationToken cancellationToken)
    {
        const string query = """
            SELECT p.oid, r.prrelid
            FROM pg_catalog.pg_publication p
            LEFT JOIN pg_catalog.pg_publication_rel r ON r.prpubid = p.oid
            WHERE p.pubname = @name
            """;
        await using var command = new NpgsqlCommand(query, connection);
        command.Parameters.AddWithValue("name", name);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        HashSet<uint>? tables = null;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            tables ??= [];
            if (!reader.IsDBNull(1))
            {
                tables.Add(reader.GetFieldValue<uint>(1));
            }
        }
        return tables;
    }

    private static async Task<bool> PublishesViaRootAsync(NpgsqlConnection connection, string name, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT pubviaroot FROM pg_catalog.pg_publication WHERE pubname = @name", connection);
        command.Parameters.AddWithValue("name", name);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true;
    }

    private static async Task<(char Identity, bool HasPrimaryKey)> ReplicaIdentityAsync(NpgsqlConnection connection, uint table, CancellationToken cancellationToken)
    {
        const string query = """
            SELECT c.relreplident,
                   EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
            FROM pg_catalog.pg_class c WHERE c.oid = @oid
            """;
        await using var command = new NpgsqlCommand(query, connection);
        command.Parameters.AddWithValue("oid", NpgsqlTypes.NpgsqlDbType.Oid, table);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return (reader.GetChar(0), reader.GetBoolean(1));
    }

    private static string QualifiedAsWritten(TableName table) =>
        table.Schema is null ? Sql.Identifier(table.Name) : Sql.Qualified(table.Schema, table.Name);
}
