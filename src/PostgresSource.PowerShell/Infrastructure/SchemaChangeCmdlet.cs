using System.Management.Automation;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.PowerShell.Infrastructure;

/// <summary>
/// Install- and Uninstall-PgSourceTrigger: per source, plan in a transaction, confirm with
/// ShouldProcess once, apply all or nothing, and report what changed. -Script writes the SQL instead.
/// </summary>
public abstract class SchemaChangeCmdlet : DatabaseCmdlet
{
    [Parameter(Mandatory = true, ValueFromPipeline = true, Position = 0, ParameterSetName = "Source")]
    [ValidateNotNull]
    public PgSource[] Source { get; set; } = [];

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>Write the SQL for review instead of running it (no database needed).</summary>
    [Parameter]
    public SwitchParameter Script { get; set; }

    /// <summary>
    /// Objects with the source's names that another role owns are removed (with everything in them) instead of
    /// refused. Without it install and uninstall stop with PgSource.NotOwner and change nothing.
    /// </summary>
    [Parameter]
    public SwitchParameter TakeOver { get; set; }

    /// <summary>"install" or "uninstall", for messages.</summary>
    private protected abstract string Verb { get; }

    private protected abstract string ScriptFor(SourceDefinition source);

    private protected abstract Task<SchemaSession> PlanAsync(SourceDefinition source, ConnectionSettings connection, CancellationToken cancellationToken);

    /// <summary>Status words for a change that ran, and for nothing to do.</summary>
    private protected abstract (string Done, string NothingToDo) StatusWords(SchemaSession session);

    /// <summary>The sources this record names; a cmdlet with more parameter sets adds its own.</summary>
    private protected virtual IEnumerable<PgSource> SourcesOfRecord() => Source;

    /// <summary>
    /// ShouldProcess once for the source; a plan that drops a table, a schema or a replication slot (a switch of
    /// capture mode loses the journal's backlog or the slot's position) is then confirmed as High impact.
    /// </summary>
    private bool Approve(string target, string action, SchemaSession session) =>
        ShouldProcess(target, action) &&
        (!session.Changes.Any(c => c.Kind is SchemaChangeKind.DropTable or SchemaChangeKind.DropSchema or SchemaChangeKind.DropSlot) ||
         ConfirmHighImpact(target, action));

    protected override void ProcessRecord()
    {
        foreach (var source in SourcesOfRecord())
        {
            if (Script)
            {
                WriteObject(ScriptFor(source.Definition));
                continue;
            }
            ProcessSource(source);
        }
    }

    private void ProcessSource(PgSource source)
    {
        try
        {
            var connection = RequireConnection(source.Definition);
            using var session = Run(ct => PlanAsync(source.Definition, connection, ct));
            var (done, nothingToDo) = StatusWords(session);
            var changes = session.Changes.Select(c => c.Describe()).ToArray();
            foreach (var note in session.Notes)
            {
                WriteWarning(note);
            }
            string status;
            if (!session.HasChanges)
            {
                WriteVerbose($"{Verb} {source}: {session.Source.DatabaseObjectName} is already as it should be in {connection.ToDisplayString()}; nothing changed.");
                status = nothingToDo;
            }
            else if (Approve($"{source} in {connection.ToDisplayString()}", $"{Verb}: {string.Join("; ", changes)}", session))
            {
                foreach (var change in changes)
                {
                    WriteVerbose($"{Verb} {source}: {change}");
                }
                Run(session.ApplyAsync);
                status = done;
            }
            else
            {
                status = "Skipped";
            }

            if (PassThru)
            {
                // -PassThru passes on what is now in place: nothing for a change -WhatIf or -Confirm skipped. The
                // object passed on carries this connection, so the next cmdlet acts on the same database.
                if (status != "Skipped")
                {
                    WriteObject(new PgSource(source.Definition with { Connection = connection }));
                }
            }
            else
            {
                WriteObject(new PgSourceChangeResult
                {
                    Source = source.ToString(),
                    ObjectName = source.ObjectName,
                    Status = status,
                    Changed = status == done,
                    Changes = changes,
                    Tables = session.Tables.Select(t => t.ToString()).ToArray(),
                    Connection = new PgSourceConnection(connection),
                });
            }
        }
        catch (OperationCanceledException)
        {
            throw new PipelineStoppedException();
        }
        catch (Exception ex) when (ex is not PipelineStoppedException)
        {
            WriteFailure(ex, source);
        }
    }
}
