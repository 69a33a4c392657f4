using System.Management.Automation;
using PostgresSource.Core.Database;
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

    /// <summary>Return an object with the server version, user, wal_level and the reason for a failure.</summary>
    [Parameter]
    public SwitchParameter Detailed { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == SourceSet)
        {
            foreach (var source in Source)
            {
                Test(() => RequireConnection(null, Credential, source.Definition), source);
            }
        }
        else
        {
            Test(() => RequireConnection(ConnectionString, Credential), ConnectionString is null ? null : "ConnectionString");
        }
    }

    private void Test(Func<ConnectionSettings> connection, object? target)
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
        WriteObject(new PgSourceConnectionTest
        {
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
}
