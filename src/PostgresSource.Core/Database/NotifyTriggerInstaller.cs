using Npgsql;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Database;

/// <summary>Notify mode: one function per source, one AFTER ROW trigger per table, pg_notify on the source's channel.</summary>
internal sealed class NotifyTriggerInstaller : ICaptureInstaller
{
    public CaptureMode Mode => CaptureMode.Notify;

    public async Task<IReadOnlyList<SchemaChange>> PlanInstallAsync(
        NpgsqlConnection connection, SourceDefinition source, IReadOnlyList<ResolvedTable> tables,
        InstallOptions options, CancellationToken cancellationToken)
    {
        var name = source.DatabaseObjectName;
        var changes = new List<SchemaChange>();

        var functions = await TriggerCatalog.FindFunctionsAsync(connection, name, cancellationToken).ConfigureAwait(false);
        var function = functions.FirstOrDefault(f => f.Schema == options.FunctionSchema);
        var functionTarget = $"{options.FunctionSchema}.{name}()";
        if (function is null)
        {
            changes.Add(new SchemaChange(SchemaChangeKind.CreateFunction, functionTarget, NotifyTriggerSql.CreateFunction(options.FunctionSchema, name)));
        }
        else if (function.Source != NotifyTriggerSql.FunctionBody(name))
        {
            // An older body (the Go controller's, or another mode's) is replaced in place; the triggers keep pointing at it.
            changes.Add(new SchemaChange(SchemaChangeKind.ReplaceFunction, functionTarget, NotifyTriggerSql.CreateFunction(options.FunctionSchema, name)));
        }

        var triggers = await TriggerCatalog.FindTriggersAsync(connection, name, cancellationToken).ConfigureAwait(false);
        foreach (var table in tables)
        {
            var existing = triggers.FirstOrDefault(t => t.TableOid == table.Oid);
            var create = NotifyTriggerSql.CreateTrigger(name, options.FunctionSchema, table);
            if (existing is null)
            {
                changes.Add(new SchemaChange(SchemaChangeKind.CreateTrigger, table.ToString(), create));
            }
            else if (!TriggerCatalog.IsAfterRowAllChanges(existing.Type) || function is null || existing.FunctionOid != function.Oid || existing.Enabled == 'D')
            {
                changes.Add(new SchemaChange(SchemaChangeKind.ReplaceTrigger, table.ToString(),
                    NotifyTriggerSql.DropTrigger(name, table.Qualified) + ";\n" + create));
            }
        }
        return changes;
    }

    public async Task<IReadOnlyList<SchemaChange>> PlanUninstallAsync(
        NpgsqlConnection connection, SourceDefinition source, CancellationToken cancellationToken)
    {
        var name = source.DatabaseObjectName;
        var changes = new List<SchemaChange>();
        var functions = await TriggerCatalog.FindFunctionsAsync(connection, name, cancellationToken).ConfigureAwait(false);
        var triggers = await TriggerCatalog.FindTriggersAsync(connection, name, cancellationToken).ConfigureAwait(false);
        foreach (var trigger in triggers.Where(t => functions.Any(f => f.Oid == t.FunctionOid)))
        {
            changes.Add(new SchemaChange(SchemaChangeKind.DropTrigger, $"{trigger.TableSchema}.{trigger.TableName}",
                NotifyTriggerSql.DropTrigger(name, trigger.QualifiedTable)));
        }
        foreach (var function in functions)
        {
            changes.Add(new SchemaChange(SchemaChangeKind.DropFunction, $"{function.Schema}.{name}()",
                NotifyTriggerSql.DropFunction(function.Schema, name)));
        }
        return changes;
    }

    public IReadOnlyList<SchemaChange> ScriptInstall(SourceDefinition source, InstallOptions options)
    {
        var name = source.DatabaseObjectName;
        var changes = new List<SchemaChange>
        {
            new(SchemaChangeKind.CreateFunction, $"{options.FunctionSchema}.{name}()", NotifyTriggerSql.CreateFunction(options.FunctionSchema, name)),
        };
        foreach (var table in source.Tables)
        {
            var qualified = QualifiedAsWritten(table);
            changes.Add(new SchemaChange(SchemaChangeKind.CreateTrigger, table.ToString(),
                NotifyTriggerSql.DropTrigger(name, qualified) + ";\n" + NotifyTriggerSql.CreateTriggerUnresolved(name, options.FunctionSchema, qualified)));
        }
        return changes;
    }

    public IReadOnlyList<SchemaChange> ScriptUninstall(SourceDefinition source, InstallOptions options)
    {
        var name = source.DatabaseObjectName;
        var changes = source.Tables
            .Select(t => new SchemaChange(SchemaChangeKind.DropTrigger, t.ToString(), NotifyTriggerSql.DropTrigger(name, QualifiedAsWritten(t))))
            .ToList();
        changes.Add(new SchemaChange(SchemaChangeKind.DropFunction, $"{options.FunctionSchema}.{name}()", NotifyTriggerSql.DropFunction(options.FunctionSchema, name)));
        return changes;
    }

    private static string QualifiedAsWritten(TableName table) =>
        table.Schema is null ? Sql.Identifier(table.Name) : Sql.Qualified(table.Schema, table.Name);
}
