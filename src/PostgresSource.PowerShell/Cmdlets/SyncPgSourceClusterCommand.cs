using System.Management.Automation;
using PostgresSource.Core.Diagnostics;
using PostgresSource.Kubernetes;
using PostgresSource.Kubernetes.Manifests;
using PostgresSource.PowerShell.Infrastructure;

namespace PostgresSource.PowerShell.Cmdlets;

/// <summary>
/// Puts sources into a Kubernetes cluster with server-side apply: the CRD (if missing), each PostgresSource, its
/// status, and its ServiceAccount, RoleBinding and adapter Deployment. Reports one object per row. -WhatIf reads
/// the cluster and says what would change without writing; -Prune removes what belongs to sources not given;
/// -InstallController first applies the controller's installation (the objects of deploy/controller.yaml).
/// </summary>
[Cmdlet(VerbsData.Sync, "PgSourceCluster", HelpUri = HelpLinks.SyncPgSourceCluster, DefaultParameterSetName = SyncSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(PgSourceClusterChange))]
public sealed class SyncPgSourceClusterCommand : PgSourceCmdlet
{
    private const string SyncSet = "Sync";
    private const string InstallControllerSet = "InstallController";
    private readonly List<PgSource> _sources = [];

    [Parameter(Position = 0, ValueFromPipeline = true)]
    [AllowEmptyCollection]
    public PgSource[] Source { get; set; } = [];

    /// <summary>The kubeconfig file; default KUBECONFIG, then ~/.kube/config, then the in-cluster service account.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Kubeconfig { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(KubeContextCompleter))]
    public string? Context { get; set; }

    /// <summary>Put every source in this namespace (and prune only here).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Namespace { get; set; }

    /// <summary>The adapter image; default ghcr.io/postgressource/adapter:&lt;module version&gt;.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Image { get; set; } = PgSourceKube.DefaultImage;

    /// <summary>Remove the objects of sources this module manages that were not given.</summary>
    [Parameter]
    public SwitchParameter Prune { get; set; }

    /// <summary>With -Prune: first run the adapter's one-shot 'uninstall' mode as a Job, which removes the source's database objects.</summary>
    [Parameter]
    public SwitchParameter RunUninstallJob { get; set; }

    [Parameter]
    public TimeSpan UninstallTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Take over fields another field manager owns (server-side apply with force).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Do not read or install the CRD and the adapter ClusterRole (for identities without cluster-scope rights).</summary>
    [Parameter(ParameterSetName = SyncSet)]
    public SwitchParameter SkipClusterResources { get; set; }

    /// <summary>First install the controller (its namespace, the CRD, RBAC and Deployment), then sync any sources given.</summary>
    [Parameter(Mandatory = true, ParameterSetName = InstallControllerSet)]
    public SwitchParameter InstallController { get; set; }

    /// <summary>The controller Deployment's image (with -InstallController); default ghcr.io/postgressource/controller:&lt;module version&gt;.</summary>
    [Parameter(ParameterSetName = InstallControllerSet)]
    [ValidateNotNullOrEmpty]
    public string ControllerImage { get; set; } = PgSourceKube.DefaultControllerImage;

    protected override void BeginProcessing()
    {
        if (RunUninstallJob && !Prune)
        {
            ThrowTerminatingError(new ErrorRecord(
                new ArgumentException("-RunUninstallJob runs when a source is pruned: use it together with -Prune."),
                ErrorIds.UninstallNeedsPrune, ErrorCategory.InvalidArgument, null));
        }
    }

    protected override void ProcessRecord() => _sources.AddRange(Source.Where(s => s is not null));

    protected override void EndProcessing()
    {
        if (_sources.Count == 0 && !Prune && !InstallController)
        {
            WriteVerbose("No sources were given; nothing to sync.");
            return;
        }

        IClusterApi api;
        try
        {
            var kubeconfig = Kubeconfig is null ? null : GetUnresolvedProviderPathFromPSPath(Kubeconfig);
            // Only core types here: KubernetesClient lives in the module's own load context.
            api = KubernetesClusterApi.Connect(kubeconfig, Context, out var description);
            WriteVerbose($"Cluster {description}.");
        }
        catch (KubeconfigException ex)
        {
            ThrowTerminatingError(ToErrorRecord(ex, Kubeconfig ?? Context));
            return;
        }

        using (api)
        {
            var options = new SyncOptions
            {
                Image = Image,
                Namespace = Namespace,
                Prune = Prune,
                RunUninstallJob = RunUninstallJob,
                UninstallTimeout = UninstallTimeout,
                Force = Force,
                ManageClusterResources = !SkipClusterResources,
                InstallController = InstallController,
                ControllerImage = ControllerImage,
            };
            var observer = new Observer(this, _sources);
            var engine = new ClusterSynchronizer(api, options, observer);
            try
            {
                Run(ct => engine.SyncAsync(_sources.Select(s => s.Definition).ToList(), ct));
            }
            catch (OperationCanceledException)
            {
                throw new PipelineStoppedException();
            }
            catch (Exception ex) when (ex is ClusterException or KubeconfigException)
            {
                ThrowTerminatingError(ToErrorRecord(ex, api.Server));
            }
            finally
            {
                FlushTrace();
                observer.CompleteProgress();
            }
        }
    }

    /// <summary>
    /// The engine's callbacks, all on the pipeline thread: the engine posts them to the context current when the sync
    /// started, which <see cref="PipelineThreadPump"/> pumps on this thread (see ISyncObserver).
    /// </summary>
    private sealed class Observer(SyncPgSourceClusterCommand cmdlet, IReadOnlyList<PgSource> sources) : ISyncObserver
    {
        private const int ProgressId = 1;
        private readonly Dictionary<string, PgSource> _byName = sources
            .GroupBy(s => s.Definition.EventSource).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        private bool _progressShown;

        public Approval Approve(PlannedChange change)
        {
            var description = $"Performing the operation \"{change.Action}\" on target \"{change.Target}\".";
            var warning = $"Are you sure you want to {change.Action.ToLowerInvariant()} {change.Target}?";
            if (cmdlet.ShouldProcess(description, warning, "Confirm", out var reason))
            {
                // Deleting (-Prune) is High impact although syncing is not: it asks at the default $ConfirmPreference.
                return change.Verb != ChangeVerb.Delete || cmdlet.ConfirmHighImpact(change.Target, change.Action) ? Approval.Approved : Approval.Declined;
            }
            return reason == ShouldProcessReason.WhatIf ? Approval.WhatIf : Approval.Declined;
        }

        public void Report(ObjectChange change)
        {
            cmdlet.FlushTrace();
            cmdlet.WriteObject(new PgSourceClusterChange
        {
            Source = change.Source,
            Kind = change.Kind,
            Namespace = change.Namespace,
            Name = change.Name,
            Subresource = change.Subresource,
            Action = CoreEnumMap.ToPowerShell(change.Action),
            Changes = change.Changes.ToArray(),
            Message = change.Message,
        });
        }

        public void Warn(string message, Remedy remedy) => cmdlet.WriteWarning(CmdletAdvice.Warning(message, remedy));

        public void Verbose(string message) => cmdlet.WriteVerbose(message);

        public void Progress(int done, int total, string activity)
        {
            if (total == 0)
            {
                return;
            }
            _progressShown = true;
            cmdlet.WriteProgress(new ProgressRecord(ProgressId, "Sync-PgSourceCluster", activity)
            {
                PercentComplete = Math.Min(100, done * 100 / total),
                StatusDescription = $"{activity} ({Math.Min(done + 1, total)} of {total})",
            });
        }

        public void Failed(string source, Exception error) =>
            cmdlet.WriteError(ToErrorRecord(error, _byName.TryGetValue(source, out var pgSource) ? pgSource : source));

        public void CompleteProgress()
        {
            if (_progressShown)
            {
                cmdlet.WriteProgress(new ProgressRecord(ProgressId, "Sync-PgSourceCluster", "Done") { RecordType = ProgressRecordType.Completed });
            }
        }
    }
}
