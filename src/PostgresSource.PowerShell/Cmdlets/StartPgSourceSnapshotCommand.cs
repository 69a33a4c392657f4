using System.Management.Automation;
using PostgresSource.Core.Capture.Snapshots;
using PostgresSource.Core.Sources;
using PostgresSource.PowerShell.Completion;
using PostgresSource.PowerShell.Infrastructure;

namespace PostgresSource.PowerShell.Cmdlets;

/// <summary>
/// Asks a Durable or Logical source to read some of its tables again, whole, as "read" events, while it runs (a
/// backfill): the running listener takes the request within seconds and goes on streaming after it; with none running,
/// the next one to start does. Writes what was requested.
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "PgSourceSnapshot", HelpUri = HelpLinks.StartPgSourceSnapshot, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(PgSourceSnapshotRequest))]
public sealed class StartPgSourceSnapshotCommand : DatabaseCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    public PgSource[] Source { get; set; } = [];

    /// <summary>Some of the source's tables; by default all of them.</summary>
    [Parameter(Position = 1)]
    [Alias("Tables")]
    [TableListTransformation]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string[]? Table { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var source in Source)
        {
            var definition = source.Definition;
            try
            {
                var tables = Table?.Select(TableName.Parse).ToList();
                var named = string.Join(", ", (tables ?? [.. definition.Tables]).Select(t => t.ToString()));
                if (!ShouldProcess($"{definition.EventSource}: {named}", "Read again as a backfill"))
                {
                    continue;
                }
                var connection = RequireConnection(definition);
                var requested = Run(ct => Backfill.RequestAsync(definition, connection, tables, ct));
                WriteObject(new PgSourceSnapshotRequest
                {
                    Source = definition.EventSource,
                    Tables = [.. requested.Select(t => t.ToString())],
                    Connection = new PgSourceConnection(connection),
                });
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
}
