using System.Collections.ObjectModel;
using System.Management.Automation;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Kubernetes.Manifests;
using PostgresSource.PowerShell.Infrastructure;

namespace PostgresSource.PowerShell.Cmdlets;

/// <summary>Reads PostgresSource custom resources (the seed's YAML) into source objects.</summary>
[Cmdlet(VerbsData.Import, "PgSource", HelpUri = HelpLinks.ImportPgSource)]
[OutputType(typeof(PgSource))]
public sealed class ImportPgSourceCommand : PgSourceCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName", "PSPath")]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    /// <summary>Connection to attach to every imported source (the YAML holds only the Secret's name).</summary>
    [Parameter]
    public PgSourceConnection? ConnectionString { get; set; }

    /// <summary>Joins -ConnectionString (or the environment's connection) for every imported source.</summary>
    [Parameter]
    [CredentialTransformation]
    public PSCredential? Credential { get; set; }

    protected override void ProcessRecord()
    {
        ConnectionSettings? connection = null;
        if (ConnectionString is { IsEmpty: false } || Credential is not null)
        {
            try
            {
                connection = RequireConnection(ConnectionString, Credential);
            }
            catch (ConnectionStringException ex)
            {
                ThrowTerminatingError(ToErrorRecord(ex, null));
            }
        }

        foreach (var item in Path)
        {
            foreach (var file in ResolveFiles(item))
            {
                ReadFile(file, connection);
            }
        }
    }

    private IEnumerable<string> ResolveFiles(string path)
    {
        Collection<string> files;
        try
        {
            files = GetResolvedProviderPathFromPSPath(path, out _);
        }
        catch (ItemNotFoundException ex)
        {
            WriteError(new ErrorRecord(ex, ErrorIds.ManifestNotFound, ErrorCategory.ObjectNotFound, path));
            yield break;
        }
        foreach (var file in files)
        {
            yield return file;
        }
    }

    private void ReadFile(string file, ConnectionSettings? connection)
    {
        SourceManifestReader.Result result;
        try
        {
            result = SourceManifestReader.ReadFile(file);
        }
        catch (ManifestException ex)
        {
            WriteFailure(ex, file);
            return;
        }
        catch (IOException ex)
        {
            WriteError(new ErrorRecord(ex, ErrorIds.ManifestNotFound, ErrorCategory.ReadError, file));
            return;
        }

        foreach (var warning in result.Warnings)
        {
            WriteWarning(warning);
        }
        foreach (var error in result.Errors)
        {
            WriteFailure(error, file);
        }
        foreach (var source in result.Sources)
        {
            WriteObject(new PgSource(connection is null ? source : source with { Connection = connection }));
        }
    }
}
