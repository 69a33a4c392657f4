using System.Management.Automation;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.PowerShell.Completion;
using PostgresSource.PowerShell.Infrastructure;

namespace PostgresSource.PowerShell.Cmdlets;

/// <summary>
/// Removes exactly one source's triggers and function (and whatever else its mode made); idempotent.
/// Takes source objects, or -Name/-Uid, so Get-PgSourceTrigger output can be piped in.
/// </summary>
[Cmdlet(VerbsLifecycle.Uninstall, "PgSourceTrigger", HelpUri = HelpLinks.UninstallPgSourceTrigger, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = "Source")]
[OutputType(typeof(PgSourceChangeResult), typeof(PgSource), typeof(string))]
public sealed class UninstallPgSourceTriggerCommand : SchemaChangeCmdlet
{
    private const string ByNameSet = "ByName";

    [Parameter(Mandatory = true, ParameterSetName = ByNameSet, ValueFromPipelineByPropertyName = true)]
    [Alias("SourceName")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(InstalledSourceNameCompleter))]
    public string Name { get; set; } = string.Empty;

    [Parameter(ParameterSetName = ByNameSet, ValueFromPipelineByPropertyName = true)]
    public string? Uid { get; set; }

    [Parameter(ParameterSetName = ByNameSet, ValueFromPipelineByPropertyName = true)]
    public string Namespace { get; set; } = SourceDefinition.DefaultNamespace;

    private protected override string Verb => "Uninstall";

    private protected override IEnumerable<PgSource> SourcesOfRecord()
    {
        if (ParameterSetName != ByNameSet)
        {
            return Source;
        }
        // Uninstall needs only the identity: the tables are found from the catalog.
        var definition = new SourceDefinition { Name = Name, Uid = string.IsNullOrWhiteSpace(Uid) ? null : Uid, Namespace = Namespace, Tables = [] };
        try
        {
            definition.ValidateIdentity();
        }
        catch (SourceValidationException ex)
        {
            WriteFailure(ex, Name);
            return [];
        }
        return [new PgSource(definition)];
    }

    private protected override string ScriptFor(SourceDefinition source) => SourceSchema.ScriptUninstall(source);

    private protected override Task<SchemaSession> PlanAsync(SourceDefinition source, ConnectionSettings connection, CancellationToken cancellationToken) =>
        SourceSchema.PlanUninstallAsync(source, connection, new InstallOptions { TakeOver = TakeOver }, cancellationToken);

    private protected override (string Done, string NothingToDo) StatusWords(SchemaSession session) => ("Removed", "Absent");
}
