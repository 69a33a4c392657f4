using System.Management.Automation;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.PowerShell.Infrastructure;

/// <summary>
/// A cmdlet that connects to a database: -ConnectionString (also bound from a piped object's Connection, so the
/// object acts where it came from; one typed on the command line wins) and -Credential.
/// </summary>
public abstract class DatabaseCmdlet : PgSourceCmdlet
{
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Connection")]
    public PgSourceConnection? ConnectionString { get; set; }

    [Parameter]
    [CredentialTransformation]
    public PSCredential? Credential { get; set; }

    /// <summary>This record's connection: see <see cref="PgSourceCmdlet.RequireConnection"/>.</summary>
    internal ConnectionSettings RequireConnection(SourceDefinition? source = null) => RequireConnection(ConnectionString, Credential, source);
}
