using Npgsql;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture.Notify;

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
        else if (function.Source != NotifyTriggerSql.FunctionBody(name) || !function.Pinned || function.SecurityDefiner)
        {
            // An older body (the Go controller's, with no pinned search_path, or another mode's) is replaced in place;
            // the triggers keep pointing at it.
            changes.Add(new SchemaChange(SchemaChangeKind.ReplaceFunction, functionTarget, NotifyTriggerSql.CreateFunction(options.FunctionSchema, name))
            {
                Reason = function.Source == NotifyTriggerSql.FunctionBody(name) ? "its search_path was not pinned" : "an earlier or the seed's body, whose calls another role could redirect through the search_path",
            });
        }

        var triggers = await TriggerCatalog.FindTriggersAsync(connection, name, cancellationToken).ConfigureAwait(false);
        foreach (var table in tables)
        {
            changes.AddRange(CaptureTriggers.Plan(name, Sql.Qualified(options.FunctionSchema, name), function?.Oid, table, triggers, options));
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
            changes.Add(new SchemaChange(SchemaChangeKind.DropTrigger, trigger.Describe(name),
                CaptureTriggers.Drop(trigger.TriggerName, trigger.QualifiedTable)));
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
            changes.AddRange(CaptureTriggers.Script(name, Sql.Qualified(options.FunctionSchema, name), QualifiedAsWritten(table), table.ToString(), source.FilterFor(table), options));
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
        changes.Add(new SchemaChange(SchemaChangeKind.DropFunction, $"{options.FunctionSchema}.{name}()", NotifyTriggerSql.DropFunction(options.FunctionSchema, name)));
        return changes;
    }

    private static string QualifiedAsWritten(TableName table) =>
        table.Schema is null ? Sql.Identifier(table.Name) : Sql.Qualified(table.Schema, table.Name);
}
