using System.Management.Automation;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.PowerShell.Infrastructure;

namespace PostgresSource.PowerShell.Cmdlets;

/// <summary>$true when the database answers; the reason for $false goes to -Verbose (and -Detailed).</summary>
[Cmdlet(VerbsDiagnostic.Test, "PgSourceConnection", HelpUri = HelpLinks.TestPgSourceConnection, DefaultParameterSetName = ConnectionSet)]
[OutputType(typeof(bool), typeof(PgSourceConnectionTest))]
public sealed class TestPgSourceConnectionCommand : PgSourceCmdlet
{
    private const string ConnectionSet = "Connection";
    private const string SourceSet = "Source";

    /// <summary>Also bound from a piped object's Connection (Get-PgSourceTrigger rows, results).</summary>
    [Parameter(ParameterSetName = ConnectionSet, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Connection")]
    public PgSourceConnection? ConnectionString { get; set; }

    [Parameter]
    [CredentialTransformation]
    public PSCredential? Credential { get; set; }

    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = SourceSet)]
    [ValidateNotNull]
    public PgSource[] Source { get; set; } = [];

    [Parameter]
    [ValidateRange(1, 600)]
    public int TimeoutSeconds { get; set; } = 15;

    /// <summary>Return an object with the server version, user, wal_level, the reason for a failure and the privileges each mode needs.</summary>
    [Parameter]
    public SwitchParameter Detailed { get; set; }

    /// <summary>With -Detailed: the modes whose privileges to check (default: all three; a piped source: its own mode).</summary>
    [Parameter(ParameterSetName = ConnectionSet)]
    [ValidateNotNullOrEmpty]
    public PgSourceMode[]? Mode { get; set; }

    /// <summary>With -Detailed: tables to check the per-table privileges on (a piped source: its own tables).</summary>
    [Parameter(ParameterSetName = ConnectionSet)]
    [ValidateNotNullOrEmpty]
    public string[]? Table { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == SourceSet)
        {
            foreach (var source in Source)
            {
                Test(() => RequireConnection(null, Credential, source.Definition), source, [source.Definition.Mode], source.Definition.Tables);
            }
        }
        else
        {
            IReadOnlyList<TableName> tables;
            try
            {
                tables = (Table ?? []).SelectMany(TableName.SplitList).Select(TableName.Parse).ToList();
            }
            catch (Exception ex) when (ex is SourceValidationException or ArgumentException)
            {
                WriteFailure(ex, Table);
                return;
            }
            var modes = (Mode ?? [PgSourceMode.Notify, PgSourceMode.Durable, PgSourceMode.Logical]).Select(CoreEnumMap.ToCore).ToList();
            Test(() => RequireConnection(ConnectionString, Credential), ConnectionString is null ? null : "ConnectionString", modes, tables);
        }
    }

    private void Test(Func<ConnectionSettings> connection, object? target, IReadOnlyList<CaptureMode> modes, IReadOnlyList<TableName> tables)
    {
        ConnectionSettings settings;
        try
        {
            settings = connection();
        }
        catch (ConnectionStringException ex)
        {
            // No usable connection at all is a usage error, not a "false".
            WriteFailure(ex, target);
            return;
        }

        WriteVerbose($"Connecting to {settings.ToDisplayString()} (from {settings.Origin}).");
        var result = Run(ct => ConnectionTester.TestAsync(settings, TimeSpan.FromSeconds(TimeoutSeconds), ct));
        WriteVerbose(result.Success
            ? $"Connected to PostgreSQL {result.ServerVersion}, database {result.Database} as {result.User} in {result.Elapsed.TotalMilliseconds:F0} ms; wal_level={result.WalLevel}."
            : $"Connection failed ({result.FailureKind}): {result.Reason}");

        if (!Detailed)
        {
            WriteObject(result.Success);
            return;
        }
        var privileges = result.Success
            ? Run(ct => PrivilegeCheck.CheckAsync(settings, modes, tables, cancellationToken: ct)).Select(ToPrivilege).ToArray()
            : [];
        foreach (var missing in privileges.Where(p => !p.Granted))
        {
            WriteVerbose("Missing: " + missing);
        }
        WriteObject(new PgSourceConnectionTest
        {
            Privileges = privileges,
            ReadyModes = privileges.GroupBy(p => p.Mode).Where(g => g.All(p => p.Granted)).Select(g => g.Key).ToArray(),
            Success = result.Success,
            Target = result.Target,
            Connection = new PgSourceConnection(settings),
            ServerVersion = result.ServerVersion,
            Database = result.Database,
            User = result.User,
            WalLevel = result.WalLevel,
            CanReplicate = result.CanReplicate,
            Elapsed = result.Elapsed,
            FailureKind = result.FailureKind,
            Reason = result.Reason,
        });
    }

    private static PgSourcePrivilege ToPrivilege(PrivilegeRequirement requirement) => new()
    {
        Mode = CoreEnumMap.ToPowerShell(requirement.Mode),
        Purpose = requirement.Purpose.ToString(),
        Privilege = requirement.Privilege,
        On = requirement.Target,
        Granted = requirement.Granted,
        Fix = requirement.Fix,
    };
}
