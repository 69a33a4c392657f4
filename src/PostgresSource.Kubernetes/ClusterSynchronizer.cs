using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using PostgresSource.Core.Diagnostics;
using PostgresSource.Core.Hosting;
using PostgresSource.Core.Naming;
using PostgresSource.Core.Sources;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes;

/// <summary>
/// Puts sources into a cluster with server-side apply, in a fixed order: the CRD (and adapter ClusterRole) if
/// missing; per source the PostgresSource, its status, then ServiceAccount, RoleBinding and Deployment; then, with
/// Prune, removal of what belongs to sources no longer given. With InstallController, the controller's installation
/// (<see cref="ControllerManifests"/>) comes first, in place of the CRD and ClusterRole step. Each object is read
/// first and written only when the apply would change it, so a second run changes nothing, and -WhatIf reads but
/// never writes.
/// </summary>
internal sealed class ClusterSynchronizer
{
    private readonly IClusterApi _api;
    private readonly SyncOptions _options;
    private readonly ISyncObserver _callerObserver;

    // The caller's observer bound to the caller's context, set at the start of each sync (see ISyncObserver).
    private ISyncObserver _observer;
    private readonly Func<DateTimeOffset> _clock;
    private readonly SinkResolver _sinks;
    private ObjectWriter _writer;
    private SourceReconciler _reconciler;
    private UninstallJobRunner _uninstall;
    private readonly JsonObject _schema = PostgresSourceCrd.SchemaJson();

    public ClusterSynchronizer(IClusterApi api, SyncOptions options, ISyncObserver observer, Func<DateTimeOffset>? clock = null)
    {
        _api = api;
        _options = options;
        _callerObserver = observer;
        _observer = observer;
        _clock = clock ?? (() => DateTimeOffset.UtcNow);
        _sinks = new SinkResolver(api);
        (_writer, _reconciler, _uninstall) = Bind(observer);
    }

    private (ObjectWriter, SourceReconciler, UninstallJobRunner) Bind(ISyncObserver observer)
    {
        var writer = new ObjectWriter(_api, observer, _options.Force);
        return (writer, new SourceReconciler(writer, _sinks, _options.Image, _clock), new UninstallJobRunner(writer, _options, _clock));
    }

    public async Task SyncAsync(IReadOnlyList<SourceDefinition> input, CancellationToken cancellationToken)
    {
        // Before the first await, so still on the caller's thread: the engine awaits with ConfigureAwait(false), and
        // the observer's calls are posted back to this context (the cmdlet's pipeline thread) by the binding.
        _observer = CallerContextObserver.Bind(_callerObserver, SynchronizationContext.Current);
        (_writer, _reconciler, _uninstall) = Bind(_observer);
        var sources = Prepare(input);
        var crdServed = true;
        if (_options.InstallController)
        {
            crdServed = await InstallControllerAsync(cancellationToken).ConfigureAwait(false);
        }
        else if (_options.ManageClusterResources)
        {
            crdServed = await EnsureCrdAsync(cancellationToken).ConfigureAwait(false);
            await EnsureClusterRoleAsync(cancellationToken).ConfigureAwait(false);
        }

        for (var i = 0; i < sources.Count; i++)
        {
            var source = sources[i];
            _observer.Progress(i, sources.Count, $"Syncing {source.EventSource}");
            try
            {
                await SyncSourceAsync(source, crdServed, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsPerSourceFailure(ex))
            {
                _observer.Failed(source.EventSource, ex);
            }
        }
        _observer.Progress(sources.Count, sources.Count, "Synced");

        if (_options.Prune)
        {
            await PruneAsync(sources, crdServed, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Failures that concern one source; an unreachable cluster or rejected credentials stop the whole sync.</summary>
    private static bool IsPerSourceFailure(Exception ex) => ex switch
    {
        ClusterUnreachableException => false,
        ClusterRequestException { StatusCode: HttpStatusCode.Unauthorized } => false,
        ClusterException or SourceValidationException => true,
        _ => false,
    };

    private List<SourceDefinition> Prepare(IReadOnlyList<SourceDefinition> input)
    {
        var prepared = new List<SourceDefinition>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var original in input)
        {
            var source = _options.Namespace is null ? original : original with { Namespace = _options.Namespace };
            try
            {
                source.Validate();
                if (source.Sink is null)
                {
                    throw new SinkResolutionException($"{source.EventSource} has no sink: it needs one (spec.sink in YAML) before it goes into a cluster.")
                    {
                        Remedy = Remedy.GiveSink,
                    };
                }
                if (!seen.Add(source.EventSource))
                {
                    throw new SourceValidationException("name", $"{source.EventSource} was given more than once; it is synced once, from its first definition.");
                }
                prepared.Add(source);
            }
            catch (Exception ex) when (ex is SourceValidationException or SinkResolutionException)
            {
                _observer.Failed(source.EventSource, ex);
            }
        }
        return prepared;
    }

    // ---- cluster-scope objects -------------------------------------------------------------------------------

    /// <summary>Installs the CRD when missing (or updates ours); returns whether PostgresSources can be read now.</summary>
    private async Task<bool> EnsureCrdAsync(CancellationToken cancellationToken)
    {
        var type = ResourceType.CustomResourceDefinition;
        JsonObject? live;
        try
        {
            live = await _api.GetAsync(type, null, PgSourceKube.CrdName, cancellationToken).ConfigureAwait(false);
        }
        catch (ClusterRequestException ex) when (ex.StatusCode == HttpStatusCode.Forbidden)
        {
            _observer.Warn($"Cannot read CustomResourceDefinitions (403): assuming {PgSourceKube.CrdName} is installed.", Remedy.SkipClusterResourceCheck);
            return true;
        }

        if (live is not null && !IsManagedByUs(live))
        {
            _observer.Verbose($"{PgSourceKube.CrdName} exists and is not managed by postgressource (for example the seed installed it); it is left as is.");
            _observer.Report(new ObjectChange(null, type.Kind, null, PgSourceKube.CrdName, ChangeAction.Unchanged, [], Message: "Installed by someone else; left as is."));
            return true;
        }

        var (_, action) = await _writer.ApplyAsync(null, type, JsonTree.ToJson(PostgresSourceCrd.Build()), live, cancellationToken).ConfigureAwait(false);
        if (action is ChangeAction.Created or ChangeAction.Configured)
        {
            await WaitForEstablishedAsync(cancellationToken).ConfigureAwait(false);
        }
        return live is not null || action == ChangeAction.Created;
    }

    private async Task WaitForEstablishedAsync(CancellationToken cancellationToken)
    {
        var deadline = _clock() + _options.CrdEstablishTimeout;
        while (true)
        {
            var crd = await _api.GetAsync(ResourceType.CustomResourceDefinition, null, PgSourceKube.CrdName, cancellationToken).ConfigureAwait(false);
            if (SourceStatus.ConditionStatus(crd, "Established") == "True")
            {
                return;
            }
            if (_clock() >= deadline)
            {
                _observer.Warn($"{PgSourceKube.CrdName} is not Established after {_options.CrdEstablishTimeout.TotalSeconds:0} s; writing PostgresSources may fail until it is.");
                return;
            }
            _observer.Verbose($"Waiting for {PgSourceKube.CrdName} to be Established.");
            await Task.Delay(_options.PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task EnsureClusterRoleAsync(CancellationToken cancellationToken)
    {
        var type = ResourceType.ClusterRole;
        JsonObject? live;
        try
        {
            live = await _api.GetAsync(type, null, PgSourceKube.AdapterClusterRole, cancellationToken).ConfigureAwait(false);
        }
        catch (ClusterRequestException ex) when (ex.StatusCode == HttpStatusCode.Forbidden)
        {
            _observer.Warn($"Cannot read ClusterRoles (403): assuming {PgSourceKube.AdapterClusterRole} exists.", Remedy.SkipClusterResourceCheck);
            return;
        }
        if (live is not null && !IsManagedByUs(live))
        {
            _observer.Report(new ObjectChange(null, type.Kind, null, PgSourceKube.AdapterClusterRole, ChangeAction.Unchanged, [], Message: "Not managed by postgressource; left as is."));
            return;
        }
        await _writer.ApplyAsync(null, type, JsonTree.ToJson(SourceObjects.AdapterClusterRole()), live, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The controller's objects in their apply order; the CRD and the adapter ClusterRole as without it (someone
    /// else's are left alone). Returns whether PostgresSources can be read now. A failure is reported like a source's.
    /// </summary>
    private async Task<bool> InstallControllerAsync(CancellationToken cancellationToken)
    {
        var crdServed = true;
        try
        {
            foreach (var (type, desired) in ControllerManifests.Build(_options.ControllerImage, _options.Image))
            {
                var name = ObjectWriter.NameOf(desired);
                if (type == ResourceType.CustomResourceDefinition)
                {
                    crdServed = await EnsureCrdAsync(cancellationToken).ConfigureAwait(false);
                }
                else if (type == ResourceType.ClusterRole && name == PgSourceKube.AdapterClusterRole)
                {
                    await EnsureClusterRoleAsync(cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    var @namespace = type.Namespaced ? JsonTree.GetString(desired, "metadata", "namespace") : null;
                    var live = await _api.GetAsync(type, @namespace, name, cancellationToken).ConfigureAwait(false);
                    if (live is not null && !IsManagedByUs(live))
                    {
                        _observer.Report(new ObjectChange(null, type.Kind, @namespace, name, ChangeAction.Unchanged, [], Message: "Not managed by postgressource; left as is."));
                        continue;
                    }
                    await _writer.ApplyAsync(null, type, desired, live, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (IsPerSourceFailure(ex))
        {
            _observer.Failed($"{PgSourceKube.ControllerNamespace}/{PgSourceKube.ControllerName}", ex);
        }
        return crdServed;
    }

    // ---- one source ------------------------------------------------------------------------------------------

    private async Task SyncSourceAsync(SourceDefinition source, bool crdServed, CancellationToken cancellationToken)
    {
        var desiredCr = SourceObjects.CustomResource(source);
        var schemaErrors = StructuralSchema.Validate(desiredCr, _schema);
        if (schemaErrors.Count > 0)
        {
            throw new SourceValidationException("spec", $"{source.EventSource} does not fit the PostgresSource schema: {string.Join("; ", schemaErrors)}");
        }

        var crType = ResourceType.PostgresSource;
        JsonObject? liveCr;
        try
        {
            liveCr = crdServed ? await _api.GetAsync(crType, source.Namespace, source.Name, cancellationToken).ConfigureAwait(false) : null;
        }
        catch (ClusterRequestException ex) when (ex.IsResourceTypeMissing)
        {
            throw new ClusterException(
                $"The cluster does not serve {PgSourceKube.ApiVersion} {PgSourceKube.Kind}: the CRD {PgSourceKube.CrdName} is not installed. " +
                "It and the adapter's ClusterRole have to be installed, by a sync that manages cluster resources or by an administrator.", ex)
            {
                Operation = ex.Operation,
                Remedy = Remedy.InstallClusterResources,
            };
        }
        var (appliedCr, crAction) = await _writer.ApplyAsync(source.EventSource, crType, desiredCr, liveCr, cancellationToken).ConfigureAwait(false);
        if (crAction == ChangeAction.Skipped && liveCr is null)
        {
            return;
        }

        var current = appliedCr ?? liveCr;
        var uid = SourceUid.NormalizeOptional(JsonTree.GetString(current, "metadata", "uid"), "metadata.uid");
        if (source.Uid is not null && uid is not null && !string.Equals(source.Uid, uid, StringComparison.Ordinal))
        {
            _observer.Verbose($"{source.EventSource} carries UID {source.Uid}, but the cluster's PostgresSource has {uid}; object names follow the cluster.");
        }
        var placed = source with { Uid = uid, Generation = JsonTree.GetInt64(current, "metadata", "generation") };
        await _reconciler.ReconcileAsync(placed, current, crAction, adapter: null, pruneStale: _options.Prune, cancellationToken).ConfigureAwait(false);
    }

    // ---- prune -----------------------------------------------------------------------------------------------

    private sealed class PruneSet(string @namespace, string label)
    {
        public string Namespace { get; } = @namespace;
        public string Label { get; } = label;
        public string? Name { get; set; }
        public JsonObject? Resource { get; set; }
        public Dictionary<ResourceType, List<JsonObject>> Objects { get; } = [];
        public List<JsonObject> Jobs { get; } = [];
        public string Display => $"{Namespace}/{Name ?? Label}";
    }

    private async Task PruneAsync(IReadOnlyList<SourceDefinition> given, bool crdServed, CancellationToken cancellationToken)
    {
        var namespaces = _options.Namespace is not null
            ? [_options.Namespace]
            : given.Select(s => s.Namespace).Append(_api.DefaultNamespace).Distinct(StringComparer.Ordinal).ToList();

        var sets = new List<PruneSet>();
        foreach (var @namespace in namespaces)
        {
            var kept = given.Where(s => s.Namespace == @namespace).Select(s => SourceObjects.LabelValue(s.Name)).ToHashSet(StringComparer.Ordinal);
            var found = new Dictionary<string, PruneSet>(StringComparer.Ordinal);
            PruneSet SetFor(string label) => found.TryGetValue(label, out var set) ? set : found[label] = new PruneSet(@namespace, label);

            if (crdServed)
            {
                foreach (var resource in await _api.ListAsync(ResourceType.PostgresSource, @namespace, $"{PgSourceKube.ManagedByLabel}={PgSourceKube.ManagedByValue}", cancellationToken).ConfigureAwait(false))
                {
                    var name = NameOf(resource);
                    var label = SourceObjects.LabelValue(name);
                    if (!kept.Contains(label))
                    {
                        var set = SetFor(label);
                        set.Name = name;
                        set.Resource = resource;
                    }
                }
            }
            foreach (var type in ResourceType.PerSourceKinds)
            {
                foreach (var item in await _api.ListAsync(type, @namespace, PgSourceKube.ManagedSelector, cancellationToken).ConfigureAwait(false))
                {
                    var label = JsonTree.GetString(item, "metadata", "labels", PgSourceKube.SourceLabel);
                    if (label is null || kept.Contains(label))
                    {
                        continue;
                    }
                    var set = SetFor(label);
                    set.Name ??= UninstallJobRunner.EnvironmentValue(item, "NAME");
                    if (!set.Objects.TryGetValue(type, out var list))
                    {
                        set.Objects[type] = list = [];
                    }
                    list.Add(item);
                }
            }
            if (_options.RunUninstallJob && found.Count > 0)
            {
                foreach (var job in await _api.ListAsync(ResourceType.Job, @namespace, PgSourceKube.ManagedSelector, cancellationToken).ConfigureAwait(false))
                {
                    var label = JsonTree.GetString(job, "metadata", "labels", PgSourceKube.SourceLabel);
                    if (label is not null && found.TryGetValue(label, out var set))
                    {
                        set.Jobs.Add(job);
                    }
                }
            }
            sets.AddRange(found.Values.OrderBy(s => s.Display, StringComparer.Ordinal));
        }

        for (var i = 0; i < sets.Count; i++)
        {
            _observer.Progress(i, sets.Count, $"Pruning {sets[i].Display}");
            try
            {
                await PruneSourceAsync(sets[i], cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsPerSourceFailure(ex))
            {
                _observer.Failed(sets[i].Display, ex);
            }
        }
        _observer.Progress(sets.Count, sets.Count, "Pruned");
    }

    private async Task PruneSourceAsync(PruneSet set, CancellationToken cancellationToken)
    {
        var source = set.Display;
        var deployments = set.Objects.GetValueOrDefault(ResourceType.Deployment) ?? [];

        // Where the uninstall Job takes its image, environment and ServiceAccount from: the adapter Deployment,
        // or (when retrying after a failed uninstall) the earlier uninstall Job.
        var template = deployments.Concat(set.Jobs).Select(o => (Object: o, Container: UninstallJobRunner.Container(o))).FirstOrDefault(t => t.Container is not null);
        var uninstall = _options.RunUninstallJob;
        if (uninstall && template.Container is null)
        {
            _observer.Warn($"Cannot run the uninstall Job for {source}: there is no adapter Deployment (or earlier uninstall Job) to take its image and environment from; its database objects stay.");
            uninstall = false;
        }

        var allApproved = true;
        foreach (var deployment in deployments)
        {
            allApproved &= await _writer.DeleteAsync(source, ResourceType.Deployment, deployment, foreground: uninstall, cancellationToken).ConfigureAwait(false);
        }

        if (uninstall)
        {
            var ran = await _uninstall.RunAsync(source, set.Namespace, set.Name ?? set.Label, template.Object, template.Container!, waitForDeployments: allApproved ? deployments : [], cancellationToken).ConfigureAwait(false);
            if (ran == Approval.Declined)
            {
                // Without the uninstall, keep what it needs (ServiceAccount, PostgresSource) for a later attempt.
                return;
            }
        }

        foreach (var type in new[] { ResourceType.RoleBinding, ResourceType.ServiceAccount })
        {
            foreach (var item in set.Objects.GetValueOrDefault(type) ?? [])
            {
                await _writer.DeleteAsync(source, type, item, foreground: false, cancellationToken).ConfigureAwait(false);
            }
        }
        if (set.Resource is not null)
        {
            await _writer.DeleteAsync(source, ResourceType.PostgresSource, set.Resource, foreground: false, cancellationToken).ConfigureAwait(false);
        }
    }

    // ---- small readers ---------------------------------------------------------------------------------------

    private static string NameOf(JsonObject item) => JsonTree.GetString(item, "metadata", "name") ?? string.Empty;

    private static bool IsManagedByUs(JsonObject item) =>
        JsonTree.GetString(item, "metadata", "labels", PgSourceKube.ManagedByLabel) == PgSourceKube.ManagedByValue;

}
