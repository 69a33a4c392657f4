using Npgsql;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture.Durable;

/// <summary>
/// Durable mode: the source's schema with its journal and trigger function, one AFTER ROW trigger per
/// table, and the snapshot state table. See <see cref="DurableJournalSql"/>.
/// </summary>
internal sealed class DurableJournalInstaller : ICaptureInstaller
{
    public CaptureMode Mode => CaptureMode.Durable;

    public async Task<IReadOnlyList<SchemaChange>> PlanInstallAsync(
        NpgsqlConnection connection, SourceDefinition source, IReadOnlyList<ResolvedTable> tables,
        InstallOptions options, CancellationToken cancellationToken)
    {
        var name = source.DatabaseObjectName;
        var changes = new List<SchemaChange>();
        var schemaExists = await SourceStateSql.SchemaExistsAsync(connection, name, cancellationToken).ConfigureAwait(false);
        if (!schemaExists)
        {
            changes.Add(new SchemaChange(SchemaChangeKind.CreateSchema, name, SourceStateSql.CreateSchema(name)));
        }
        if (!schemaExists || !await SourceStateSql.TableExistsAsync(connection, name, DurableJournalSql.JournalTable, cancellationToken).ConfigureAwait(false))
        {
            changes.Add(new SchemaChange(SchemaChangeKind.CreateTable, $"{name}.{DurableJournalSql.JournalTable}", DurableJournalSql.CreateJournal(name)));
        }
        else if (!await JournalColumns.AreCurrentAsync(connection, name, cancellationToken).ConfigureAwait(false))
        {
            // A journal of an earlier version: upgraded in place, its rows kept.
            changes.Add(new SchemaChange(SchemaChangeKind.AlterTable, $"{name}.{DurableJournalSql.JournalTable}", DurableJournalSql.UpgradeJournal(name)));
        }

        var function = schemaExists ? await FindFunctionAsync(connection, name, cancellationToken).ConfigureAwait(false) : null;
        var functionTarget = $"{name}.{DurableJournalSql.FunctionName}()";
        if (function is null)
        {
            changes.Add(new SchemaChange(SchemaChangeKind.CreateFunction, functionTarget, DurableJournalSql.CreateFunction(name)));
        }
        else if (function.Value.Source != DurableJournalSql.FunctionBody(name) || function.Value.SecurityDefiner || !function.Value.Pinned)
        {
            // Earlier versions ran it as its owner (SECURITY DEFINER): a cast to json that a table owner defines ran with the installer's rights.
            changes.Add(new SchemaChange(SchemaChangeKind.ReplaceFunction, functionTarget, DurableJournalSql.CreateFunction(name))
            {
                Reason = function.Value.SecurityDefiner ? "it ran with its owner's rights (SECURITY DEFINER), so a cast a table owner defines did too"
                    : !function.Value.Pinned ? "its search_path was not pinned" : null,
            });
        }
        if (changes.Any(c => c.Target == $"{name}.{DurableJournalSql.JournalTable}")
            || !await JournalAccessIsCurrentAsync(connection, name, cancellationToken).ConfigureAwait(false))
        {
            changes.Add(new SchemaChange(SchemaChangeKind.GrantAccess, $"{name}.{DurableJournalSql.JournalTable}", DurableJournalSql.JournalAccess(name)));
        }

        changes.AddRange(await SourceStateSql.PlanStateAsync(connection, name, tables, options.Snapshot, schemaPlanned: !schemaExists, cancellationToken)
            .ConfigureAwait(false));

        var triggers = await TriggerCatalog.FindTriggersAsync(connection, name, cancellationToken).ConfigureAwait(false);
        foreach (var table in tables)
        {
            changes.AddRange(CaptureTriggers.Plan(name, DurableJournalSql.FunctionQualified(name), function?.Oid, table, triggers, options));
        }
        return changes;
    }

    public async Task<IReadOnlyList<SchemaChange>> PlanUninstallAsync(
        NpgsqlConnection connection, SourceDefinition source, CancellationToken cancellationToken)
    {
        var name = source.DatabaseObjectName;
        var changes = new List<SchemaChange>();
        if (!await SourceStateSql.SchemaExistsAsync(connection, name, cancellationToken).ConfigureAwait(false))
        {
            return changes;
        }
        var function = await FindFunctionAsync(connection, name, cancellationToken).ConfigureAwait(false);
        if (function is not null)
        {
            var triggers = await TriggerCatalog.FindTriggersAsync(connection, name, cancellationToken).ConfigureAwait(false);
            foreach (var trigger in triggers.Where(t => t.FunctionOid == function.Value.Oid))
            {
                changes.Add(new SchemaChange(SchemaChangeKind.DropTrigger, trigger.Describe(name),
                    CaptureTriggers.Drop(trigger.TriggerName, trigger.QualifiedTable)));
            }
            changes.Add(new SchemaChange(SchemaChangeKind.DropFunction, $"{name}.{DurableJournalSql.FunctionName}()", DurableJournalSql.DropFunction(name)));
        }
        if (await SourceStateSql.TableExistsAsync(connection, name, DurableJournalSql.JournalTable, cancellationToken).ConfigureAwait(false))
        {
            changes.Add(new SchemaChange(SchemaChangeKind.DropTable, $"{name}.{DurableJournalSql.JournalTable}", DurableJournalSql.DropJournal(name)));
        }
        changes.AddRange(await SourceStateSql.PlanDropAsync(connection, name, cancellationToken).ConfigureAwait(false));
        return changes;
    }

    public IReadOnlyList<SchemaChange> ScriptInstall(SourceDefinition source, InstallOptions options)
    {
        var name = source.DatabaseObjectName;
        var changes = new List<SchemaChange>
        {
            new(SchemaChangeKind.CreateSchema, name, SourceStateSql.CreateSchema(name)),
            new(SchemaChangeKind.CreateTable, $"{name}.{DurableJournalSql.JournalTable}", DurableJournalSql.CreateJournal(name)),
            // Idempotent: brings a journal an earlier version made to the current columns; nothing for a new one.
            new(SchemaChangeKind.AlterTable, $"{name}.{DurableJournalSql.JournalTable}", DurableJournalSql.UpgradeJournal(name)),
            new(SchemaChangeKind.CreateFunction, $"{name}.{DurableJournalSql.FunctionName}()", DurableJournalSql.CreateFunction(name)),
            new(SchemaChangeKind.GrantAccess, $"{name}.{DurableJournalSql.JournalTable}", DurableJournalSql.JournalAccess(name)),
            new(SchemaChangeKind.CreateTable, $"{name}.{SourceStateSql.SnapshotTable}", SourceStateSql.CreateSnapshotTable(name)),
        };
        foreach (var table in source.Tables)
        {
            changes.AddRange(CaptureTriggers.Script(name, DurableJournalSql.FunctionQualified(name), QualifiedAsWritten(table), table.ToString(), source.FilterFor(table), options));
        }
        if (options.Snapshot)
        {
            // Without a database the schema of an unqualified table is unknown: the script assumes public.
            foreach (var table in source.Tables)
            {
                changes.Add(new SchemaChange(SchemaChangeKind.RequestSnapshot, table.ToString(),
                    SourceStateSql.RequestSnapshot(name, table.Schema ?? "public", table.Name)));
            }
        }
        return changes;
    }

    public IReadOnlyList<SchemaChange> ScriptUninstall(SourceDefinition source, InstallOptions options)
    {
        var name = source.DatabaseObjectName;
        var changes = source.Tables
            .SelectMany(t => CaptureTriggers.Names(name).Select(trigger =>
                new SchemaChange(SchemaChangeKind.DropTrigger, t.ToString(), CaptureTriggers.Drop(trigger, QualifiedAsWritten(t)))))
            .ToList();
        changes.Add(new SchemaChange(SchemaChangeKind.DropFunction, $"{name}.{DurableJournalSql.FunctionName}()", DurableJournalSql.DropFunction(name)));
        changes.Add(new SchemaChange(SchemaChangeKind.DropTable, $"{name}.{DurableJournalSql.JournalTable}", DurableJournalSql.DropJournal(name)));
        changes.Add(new SchemaChange(SchemaChangeKind.DropTable, $"{name}.{SourceStateSql.SnapshotTable}", SourceStateSql.DropSnapshotTable(name)));
        changes.Add(new SchemaChange(SchemaChangeKind.DropTable, $"{name}.{SourceStateSql.PositionTable}", SourceStateSql.DropPositionTable(name)));
        changes.Add(new SchemaChange(SchemaChangeKind.DropSchema, name, SourceStateSql.DropSchema(name)));
        return changes;
    }

    internal readonly record struct JournalFunction(uint Oid, string Source, bool SecurityDefiner, bool Pinned);

    /// <summary>Row-level security on, the current policy in place, and PUBLIC holding INSERT and nothing more.</summary>
    private static async Task<bool> JournalAccessIsCurrentAsync(NpgsqlConnection connection, string name, CancellationToken cancellationToken)
    {
        const string query = """
            SELECT c.relrowsecurity
               AND EXISTS (SELECT 1 FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid AND p.polname = @policy)
               AND (SELECT pg_catalog.array_agg(a.privilege_type::text ORDER BY a.privilege_type)
                    FROM pg_catalog.aclexplode(c.relacl) a WHERE a.grantee = 0) = ARRAY['INSERT']
               AND pg_catalog.has_schema_privilege('public', n.oid, 'USAGE')
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = @schema AND c.relname = @table
            """;
        await using var command = new NpgsqlCommand(query, connection);
        command.Parameters.AddWithValue("policy", DurableJournalSql.AccessPolicy);
        command.Parameters.AddWithValue("schema", name);
        command.Parameters.AddWithValue("table", DurableJournalSql.JournalTable);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is true;
    }

    internal static async Task<JournalFunction?> FindFunctionAsync(NpgsqlConnection connection, string name, CancellationToken cancellationToken)
    {
        const string query = """
            SELECT p.oid, p.prosrc, p.prosecdef, @pinned = ANY (COALESCE(p.proconfig, '{}'))
            FROM pg_catalog.pg_proc p
            JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = @schema AND p.proname = @function AND p.pronargs = 0
              AND p.prorettype = 'pg_catalog.trigger'::pg_catalog.regtype
            """;
        await using var command = new NpgsqlCommand(query, connection);
        command.Parameters.AddWithValue("schema", name);
        command.Parameters.AddWithValue("function", DurableJournalSql.FunctionName);
        command.Parameters.AddWithValue("pinned", Sql.PinnedSearchPathSetting);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }
        return new JournalFunction(reader.GetFieldValue<uint>(0), reader.GetString(1), reader.GetBoolean(2), reader.GetBoolean(3));
    }

    private static string QualifiedAsWritten(TableName table) =>
        table.Schema is null ? Sql.Identifier(table.Name) : Sql.Qualified(table.Schema, table.Name);
}
