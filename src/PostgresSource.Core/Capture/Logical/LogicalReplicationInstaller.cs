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

        var publish = tables.Aggregate(TableOperations.None, (all, t) => all | (t.Filter?.Operations ?? TableOperations.All));
        var entries = new List<string>();
        var pushed = new List<object>();
        foreach (var table in tables)
        {
            var (identity, hasPrimaryKey) = await ReplicaIdentityAsync(connection, table.Oid, cancellationToken).ConfigureAwait(false);
            var noIdentity = identity == 'n' || (identity == 'd' && !hasPrimaryKey);
            if (identity != 'f' && (options.ReplicaIdentityFull || noIdentity))
            {
                changes.Add(new SchemaChange(SchemaChangeKind.AlterTable,
                    table + (noIdentity && !options.ReplicaIdentityFull ? " (replica identity full: the table has no primary key)" : " (replica identity full)"),
                    LogicalReplicationSql.ReplicaIdentityFull(table.Qualified)));
            }
            var full = identity == 'f' || options.ReplicaIdentityFull || noIdentity;
            var (columns, where) = await PushedFilterAsync(connection, table, full, publish, cancellationToken).ConfigureAwait(false);
            entries.Add(LogicalReplicationSql.PublicationEntry(table.Qualified, columns, where));
            if (columns is not null || where is not null)
            {
                pushed.Add(new { table = table.ToString(), columns, where });
            }
        }
        var filtersText = pushed.Count == 0 ? null : System.Text.Json.JsonSerializer.Serialize(pushed);

        var publication = await FindPublicationAsync(connection, name, cancellationToken).ConfigureAwait(false);
        var viaRoot = tables.Any(t => t.Partitioned);
        if (publication is null)
        {
            changes.Add(new SchemaChange(SchemaChangeKind.CreatePublication, name, LogicalReplicationSql.CreatePublication(name, entries, viaRoot, publish)));
            if (filtersText is not null)
            {
                changes.Add(new SchemaChange(SchemaChangeKind.AlterPublication, name + " (filters)", LogicalReplicationSql.CommentFilters(name, filtersText)));
            }
        }
        else
        {
            if (!publication.Tables.SetEquals(tables.Select(t => t.Oid)) || publication.Filters != filtersText)
            {
                changes.Add(new SchemaChange(SchemaChangeKind.AlterPublication, name,
                    LogicalReplicationSql.SetPublicationTables(name, entries) + ";\n" + LogicalReplicationSql.CommentFilters(name, filtersText)));
            }
            if (publication.Publish != publish)
            {
                changes.Add(new SchemaChange(SchemaChangeKind.AlterPublication, $"{name} (publish {LogicalReplicationSql.Publish(publish)})",
                    LogicalReplicationSql.SetPublish(name, publish)));
            }
            if (viaRoot && !publication.ViaRoot)
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
        if (await FindPublicationAsync(connection, name, cancellationToken).ConfigureAwait(false) is not null)
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
        var changes = new List<SchemaChange>();
        if (options.ReplicaIdentityFull)
        {
            changes.AddRange(source.Tables.Select(t => new SchemaChange(SchemaChangeKind.AlterTable, t + " (replica identity full)",
                LogicalReplicationSql.ReplicaIdentityFull(QualifiedAsWritten(t)))));
        }
        // A script pushes down the operations and row conditions; column filters are the listener's (a column list needs the key columns).
        var entries = source.Tables.Select(t => LogicalReplicationSql.PublicationEntry(QualifiedAsWritten(t), null, source.FilterFor(t)?.Where)).ToList();
        var publish = source.Tables.Aggregate(TableOperations.None, (all, t) => all | (source.FilterFor(t)?.Operations ?? TableOperations.All));
        changes.Add(new SchemaChange(SchemaChangeKind.CreatePublication, name, LogicalReplicationSql.EnsurePublication(name, entries, publish)));
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

    /// <summary>A publication as installed: its tables' oids, what it publishes, whether via the partition root, and the filters recorded on it.</summary>
    internal sealed record PublicationInfo(HashSet<uint> Tables, TableOperations Publish, bool ViaRoot, string? Filters);

    /// <summary>The source's publication, or null when there is no such publication.</summary>
    internal static async Task<PublicationInfo?> FindPublicationAsync(NpgsqlConnection connection, string name, CancellationToken cancellationToken)
    {
        const string query = """
            SELECT r.prrelid,
                   (CASE WHEN p.pubinsert THEN 1 ELSE 0 END) | (CASE WHEN p.pubupdate THEN 2 ELSE 0 END)
                   | (CASE WHEN p.pubdelete THEN 4 ELSE 0 END) | (CASE WHEN p.pubtruncate THEN 8 ELSE 0 END),
                   p.pubviaroot, pg_catalog.obj_description(p.oid, 'pg_publication')
            FROM pg_catalog.pg_publication p
            LEFT JOIN pg_catalog.pg_publication_rel r ON r.prpubid = p.oid
            WHERE p.pubname = @name
            """;
        await using var command = new NpgsqlCommand(query, connection);
        command.Parameters.AddWithValue("name", name);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        PublicationInfo? publication = null;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            publication ??= new PublicationInfo([], (TableOperations)reader.GetInt32(1), reader.GetBoolean(2), reader.IsDBNull(3) ? null : reader.GetString(3));
            if (!reader.IsDBNull(0))
            {
                publication.Tables.Add(reader.GetFieldValue<uint>(0));
            }
        }
        return publication;
    }

    /// <summary>
    /// What of a table's filter the publication applies (PostgreSQL 15+): its row condition, and an include list as a
    /// column list with the replica identity's columns added (PostgreSQL requires them; the listener removes them
    /// again). A condition on an UPDATE or DELETE may only use the replica identity's columns, else PostgreSQL would
    /// refuse the user's UPDATE and DELETE on the table: that is refused here, before anything changes.
    /// </summary>
    private static async Task<(IReadOnlyList<string>? Columns, string? Where)> PushedFilterAsync(
        NpgsqlConnection connection, ResolvedTable table, bool identityFull, TableOperations publish, CancellationToken cancellationToken)
    {
        if (table.Filter is not { } filter || (filter.Where is null && filter.IncludeColumns.Count == 0))
        {
            return (null, null);
        }
        if (connection.PostgreSqlVersion.Major < 15)
        {
            if (filter.Where is not null)
            {
                throw new TableFilterException(table,
                    $"has a row condition, which Logical mode needs PostgreSQL 15 or later for (this server is {connection.PostgreSqlVersion}); use Durable or Notify mode, or drop the condition");
            }
            return (null, null);
        }
        var identity = identityFull ? table.Columns : await IdentityColumnsAsync(connection, table.Oid, cancellationToken).ConfigureAwait(false);
        if (filter.Where is not null && !identityFull && (publish & (TableOperations.Update | TableOperations.Delete)) != 0)
        {
            var outside = RowPredicate.ReferencedColumns(filter.Where, table.Columns).Where(c => !identity.Contains(c)).ToList();
            if (outside.Count > 0)
            {
                throw new TableFilterException(table,
                    $"has a row condition on {string.Join(", ", outside)}, outside the table's replica identity ({(identity.Count == 0 ? "none" : string.Join(", ", identity))}): " +
                    "PostgreSQL would then refuse every UPDATE and DELETE on the table. Use only those columns, or make the table's replica identity FULL " +
                    "(the install's replica identity option; the server then logs whole old rows)");
            }
        }
        IReadOnlyList<string>? columns = null;
        if (filter.IncludeColumns.Count > 0 && !identityFull)
        {
            columns = [.. table.Columns.Where(c => filter.IncludeColumns.Contains(c) || identity.Contains(c))];
        }
        return (columns, filter.Where);
    }

    /// <summary>The columns of the table's replica identity: its primary key, or the index chosen for it.</summary>
    private static async Task<IReadOnlyList<string>> IdentityColumnsAsync(NpgsqlConnection connection, uint table, CancellationToken cancellationToken)
    {
        const string query = """
            SELECT a.attname
            FROM pg_catalog.pg_class c
            JOIN pg_catalog.pg_index i ON i.indrelid = c.oid
                 AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))
            JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
            WHERE c.oid = @oid
            """;
        await using var command = new NpgsqlCommand(query, connection);
        command.Parameters.AddWithValue("oid", NpgsqlTypes.NpgsqlDbType.Oid, table);
        var columns = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            columns.Add(reader.GetString(0));
        }
        return columns;
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
