using System.Management.Automation;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.PowerShell.Infrastructure;

namespace PostgresSource.PowerShell.Cmdlets;

/// <summary>Creates a source's function and triggers (all tables or none); idempotent.</summary>
[Cmdlet(VerbsLifecycle.Install, "PgSourceTrigger", HelpUri = HelpLinks.InstallPgSourceTrigger, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "Source")]
[OutputType(typeof(PgSourceChangeResult), typeof(PgSource), typeof(string))]
public sealed class InstallPgSourceTriggerCommand : SchemaChangeCmdlet
{
    /// <summary>Durable and Logical: emit every existing row once (as a read event) before streaming.</summary>
    [Parameter]
    public SwitchParameter Snapshot { get; set; }

    /// <summary>Logical: set REPLICA IDENTITY FULL so UPDATE and DELETE events carry the whole old row.</summary>
    [Parameter]
    public SwitchParameter ReplicaIdentityFull { get; set; }

    /// <summary>The source is installed in another mode: remove that mode's objects and install this one.</summary>
    [Parameter]
    public SwitchParameter SwitchMode { get; set; }

    /// <summary>
    /// Durable and Notify: also capture writes made with session_replication_role = replica (logical-replication
    /// apply, restores with triggers disabled): ENABLE ALWAYS. -CaptureReplicaSessions:$false sets the plain ENABLE
    /// back; leaving it out keeps what is installed. Needs ownership of each table.
    /// </summary>
    [Parameter]
    public SwitchParameter CaptureReplicaSessions { get; set; }

    private InstallOptions Options => new()
    {
        Snapshot = Snapshot,
        ReplicaIdentityFull = ReplicaIdentityFull,
        CaptureReplicaSessions = MyInvocation.BoundParameters.ContainsKey(nameof(CaptureReplicaSessions)) ? CaptureReplicaSessions.IsPresent : null,
        TakeOver = TakeOver,
    };

    private protected override string Verb => SwitchMode ? "Switch mode" : "Install";

    private protected override string ScriptFor(SourceDefinition source) => SourceSchema.ScriptInstall(source, Options);

    private protected override Task<SchemaSession> PlanAsync(SourceDefinition source, ConnectionSettings connection, CancellationToken cancellationToken) =>
        SwitchMode
            ? SourceSchema.PlanModeSwitchAsync(source, source.Mode, connection, Options, cancellationToken)
            : SourceSchema.PlanInstallAsync(source, connection, Options, cancellationToken);

    private protected override (string Done, string NothingToDo) StatusWords(SchemaSession session) =>
        (session.Changes.Any(c => c.Kind is SchemaChangeKind.CreateFunction or SchemaChangeKind.CreatePublication) ? "Installed" : "Updated", "Unchanged");
}
