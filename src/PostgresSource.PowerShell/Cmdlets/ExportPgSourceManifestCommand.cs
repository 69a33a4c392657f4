using System.Management.Automation;
using System.Text;
using PostgresSource.Kubernetes;
using PostgresSource.Kubernetes.Manifests;
using PostgresSource.PowerShell.Infrastructure;

namespace PostgresSource.PowerShell.Cmdlets;

/// <summary>
/// Writes the Kubernetes objects for sources as multi-document YAML (to the pipeline, or a file with -Path), ready
/// for kubectl apply -f or a GitOps repository. Works offline: a source that has never been in a cluster has no UID,
/// so its objects are named postgressource-&lt;name&gt; and carry no owner references. A password appears only in a
/// Secret, and only when one is asked for (-IncludeSecret, -SecretConnectionString or -SecretCredential).
/// </summary>
[Cmdlet(VerbsData.Export, "PgSourceManifest", HelpUri = HelpLinks.ExportPgSourceManifest, DefaultParameterSetName = PipelineSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(string), ParameterSetName = [PipelineSet])]
[OutputType(typeof(FileInfo), ParameterSetName = [PathSet])]
public sealed class ExportPgSourceManifestCommand : PgSourceCmdlet
{
    private const string PipelineSet = "Pipeline";
    private const string PathSet = "Path";
    private readonly List<PgSource> _sources = [];

    [Parameter(Position = 0, ValueFromPipeline = true)]
    [AllowEmptyCollection]
    public PgSource[] Source { get; set; } = [];

    /// <summary>Write the YAML to this file instead of the pipeline.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathSet)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = string.Empty;

    /// <summary>Overwrite an existing file.</summary>
    [Parameter(ParameterSetName = PathSet)]
    public SwitchParameter Force { get; set; }

    /// <summary>Also write the CustomResourceDefinition postgressources.sources.vaikas.dev.</summary>
    [Parameter]
    public SwitchParameter IncludeCrd { get; set; }

    /// <summary>Also write the ClusterRole the sources' RoleBindings point at.</summary>
    [Parameter]
    public SwitchParameter IncludeClusterRole { get; set; }

    /// <summary>Also write the controller's installation, first: its namespace, the CRD, the adapter ClusterRole, RBAC and Deployment.</summary>
    [Parameter]
    public SwitchParameter Controller { get; set; }

    /// <summary>The image of the controller's Deployment (with -Controller).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string ControllerImage { get; set; } = PgSourceKube.DefaultControllerImage;

    /// <summary>The adapter image: the sources' Deployments run it, and with -Controller the controller deploys it.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Image { get; set; } = PgSourceKube.DefaultImage;

    /// <summary>Put every source in this namespace.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Namespace { get; set; }

    /// <summary>K_SINK for every source, for sinks that cannot be resolved without a cluster.</summary>
    [Parameter]
    public Uri? SinkUri { get; set; }

    /// <summary>Write a Secret per source with its connection string (the source's own, from -ConnectionString).</summary>
    [Parameter]
    public SwitchParameter IncludeSecret { get; set; }

    /// <summary>Write a Secret per source holding this connection string.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? SecretConnectionString { get; set; }

    /// <summary>Write a Secret per source with this user name and password (server and database from the source or -SecretConnectionString).</summary>
    [Parameter]
    [Credential]
    public PSCredential? SecretCredential { get; set; }

    protected override void BeginProcessing()
    {
        if (SinkUri is not null && !SinkUri.IsAbsoluteUri)
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException($"-SinkUri '{SinkUri}' is not an absolute URI."), ErrorIds.InvalidSource, ErrorCategory.InvalidArgument, SinkUri));
        }
    }

    protected override void ProcessRecord() => _sources.AddRange(Source.Where(s => s is not null));

    protected override void EndProcessing()
    {
        var definitions = _sources.Select(s => s.Definition).ToList();
        var network = SecretCredential?.GetNetworkCredential();
        var result = ManifestExporter.Export(definitions, new ExportOptions
        {
            Image = Image,
            IncludeCrd = IncludeCrd,
            IncludeClusterRole = IncludeClusterRole,
            Controller = Controller,
            ControllerImage = ControllerImage,
            Namespace = Namespace,
            SinkUri = SinkUri?.OriginalString,
            IncludeSecret = IncludeSecret,
            SecretConnectionString = SecretConnectionString,
            SecretCredential = network is null ? null : (network.UserName, network.Password),
        });

        var byName = _sources.GroupBy(s => s.Definition.EventSource).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        foreach (var (source, error) in result.Errors)
        {
            WriteFailure(error, byName.TryGetValue(source, out var pgSource) ? pgSource : source);
        }
        foreach (var warning in result.Warnings)
        {
            WriteWarning(warning);
        }
        if (result.Documents.Count == 0)
        {
            WriteVerbose("Nothing to export.");
            return;
        }

        var yaml = ManifestYaml.Write(result.Documents, ManifestExporter.Header(definitions, Controller));
        if (ParameterSetName != PathSet)
        {
            WriteObject(yaml);
            return;
        }

        var path = GetUnresolvedProviderPathFromPSPath(Path);
        if (File.Exists(path) && !Force)
        {
            ThrowTerminatingError(new ErrorRecord(
                new IOException($"The file '{path}' exists; pass -Force to overwrite it."), ErrorIds.FileExists, ErrorCategory.ResourceExists, path)
            {
                ErrorDetails = new ErrorDetails($"The file '{path}' exists; pass -Force to overwrite it.") { RecommendedAction = "Pass -Force, or choose another -Path." },
            });
        }
        if (!ShouldProcess(path, $"Write {result.Documents.Count} Kubernetes object(s)"))
        {
            return;
        }
        try
        {
            var directory = System.IO.Path.GetDirectoryName(path);
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }
            File.WriteAllText(path, yaml, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            WriteObject(new FileInfo(path));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            WriteError(new ErrorRecord(ex, ErrorIds.ManifestWriteFailed, ErrorCategory.WriteError, path));
        }
    }
}
