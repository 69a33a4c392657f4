using System.Management.Automation;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.PowerShell.Completion;
using PostgresSource.PowerShell.Infrastructure;

namespace PostgresSource.PowerShell.Cmdlets;

/// <summary>
/// Lists the sources installed in a database, per source and table, in every capture mode (Notify,
/// Durable, Logical), including objects the original Go controller made (recognised by the name rule).
/// </summary>
[Cmdlet(VerbsCommon.Get, "PgSourceTrigger", HelpUri = HelpLinks.GetPgSourceTrigger, DefaultParameterSetName = AllSet)]
[OutputType(typeof(PgSourceTriggerInfo))]
public sealed class GetPgSourceTriggerCommand : DatabaseCmdlet
{
    private const string AllSet = "All";
    private const string SourceSet = "Source";

    [Parameter(ParameterSetName = AllSet, Position = 0)]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(InstalledSourceNameCompleter))]
    public string[]? Name { get; set; }

    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = SourceSet)]
    [ValidateNotNull]
    public PgSource[] Source { get; set; } = [];

    protected override void ProcessRecord()
    {
        if (ParameterSetName == SourceSet)
        {
            foreach (var source in Source)
            {
                Report(source.Definition, (connection, ct) => TriggerInspector.ForSourceAsync(source.Definition, connection, ct), source);
            }
            return;
        }

        var patterns = (Name ?? []).Select(n => new WildcardPattern(n, WildcardOptions.IgnoreCase)).ToList();
        Report(null, TriggerInspector.ListAsync, Name,
            row => patterns.Count == 0 || patterns.Any(p => p.IsMatch(row.SourceName ?? string.Empty) || p.IsMatch(row.ObjectName)));
    }

    private void Report(
        Core.Sources.SourceDefinition? source,
        Func<ConnectionSettings, CancellationToken, Task<IReadOnlyList<InstalledSourceObject>>> read,
        object? target,
        Func<InstalledSourceObject, bool>? filter = null)
    {
        try
        {
            var connection = RequireConnection(source);
            // Every row carries the database it was read from: piped to Uninstall-PgSourceTrigger, it acts there.
            var carried = new PgSourceConnection(connection);
            foreach (var row in Run(ct => read(connection, ct)).Where(filter ?? (_ => true)))
            {
                WriteObject(new PgSourceTriggerInfo
                {
                    Connection = carried,
                    SourceName = row.SourceName,
                    Uid = row.Uid,
                    ObjectName = row.ObjectName,
                    Mode = CoreEnumMap.ToPowerShell(row.Mode),
                    Schema = row.TableSchema,
                    Table = row.Table,
                    FunctionPresent = row.FunctionPresent,
                    FunctionSchema = row.FunctionSchema,
                    TriggerPresent = row.TriggerPresent,
                    Enabled = row.TriggerEnabled,
                    Operations = row.Operations.ToArray(),
                    Filter = PgSourceTableFilter.From(row.Filter),
                    Flavor = row.Flavor,
                    JournalBacklog = row.JournalBacklog,
                    SlotPresent = row.Slot is not null,
                    SlotActive = row.Slot?.Active,
                    ConfirmedFlushLsn = row.Slot?.ConfirmedFlushLsn,
                    RetainedWalBytes = row.Slot?.RetainedWalBytes,
                });
            }
        }
        catch (OperationCanceledException)
        {
            throw new PipelineStoppedException();
        }
        catch (Exception ex) when (ex is not PipelineStoppedException)
        {
            WriteFailure(ex, target);
        }
    }
}
