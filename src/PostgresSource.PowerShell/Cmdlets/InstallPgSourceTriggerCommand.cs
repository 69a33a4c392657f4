using System.Management.Automation;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.PowerShell.Infrastructure;

namespace PostgresSource.PowerShell.Cmdlets;

/// <summary>Creates a source's function and triggers (all tables or none); idempotent.</summary>
[Cmdlet(VerbsLifecycle.Install, "PgSourceTrigger", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "Source")]
[OutputType(typeof(PgSourceChangeResult), typeof(PgSource), typeof(string))]
public sealed class InstallPgSourceTriggerCommand : SchemaChangeCmdlet
{
    private protected override string Verb => "Install";

    private protected override string ScriptFor(SourceDefinition source) => SourceSchema.ScriptInstall(source);

    private protected override Task<SchemaSession> PlanAsync(SourceDefinition source, ConnectionSettings connection, CancellationToken cancellationToken) =>
        SourceSchema.PlanInstallAsync(source, connection, cancellationToken: cancellationToken);

    private protected override (string Done, string NothingToDo) StatusWords(SchemaSession session) =>
        (session.Changes.Any(c => c.Kind == SchemaChangeKind.CreateFunction) ? "Installed" : "Updated", "Unchanged");
}
