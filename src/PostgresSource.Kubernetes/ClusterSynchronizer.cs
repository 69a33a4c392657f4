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
/// Prune, removal of what belongs to sources no longer given. Each object is read first and written only when the
/// apply would change it, so a second run changes nothing, and -WhatIf reads but never writes.
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
    private readonly JsonObject _schema = PostgresSourceCrd.SchemaJson();

    public ClusterSynchronizer(IClusterApi api, SyncOptions options, ISyncObserver observer, Func<DateTimeOffset>? clock = null)
    {
        _api = api;
        _options = options;
        _callerObserver = observer;
        _observer = observer;
        _clock = clock ?? (() => DateTimeOffset.UtcNow);
        _sinks = new SinkResolver(api);
    }

    public async Task SyncAsync(IReadOnlyList<SourceDefinition> input, CancellationToken cancellationToken)
    {
        // Before the first await, so still on the caller's thread: the engine awaits with ConfigureAwait(false), and
        // the observer's calls are posted back to this context (the cmdlet's pipeline thread) by the binding.
        _observer = CallerContextObserver.Bind(_callerObserver, SynchronizationContext.Current);
        var sources = Prepare(input);
        var crdServed = true;
        if (_options.ManageClusterResources)
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

        var (_, action) = await ApplyObjectAsync(null, type, JsonTree.ToJson(PostgresSourceCrd.Build()), live, cancellationToken).ConfigureAwait(false);
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
            if (ConditionStatus(crd, "Established") == "True")
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
        await ApplyObjectAsync(null, type, JsonTree.ToJson(SourceObjects.AdapterClusterRole()), live, cancellationToken).ConfigureAwait(false);
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
        var (appliedCr, crAction) = await ApplyObjectAsync(source.EventSource, crType, desiredCr, liveCr, cancellationToken).ConfigureAwait(false);
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

        string? sinkUri = null;
        SinkResolutionException? sinkError = null;
        try
        {
            var resolution = await _sinks.ResolveAsync(placed, cancellationToken).ConfigureAwait(false);
            sinkUri = resolution.Uri;
            if (resolution.Warning is not null)
            {
                _observer.Warn(resolution.Warning);
            }
        }
        catch (SinkResolutionException ex)
        {
            sinkError = ex;
        }

        // spec.delivery.deadLetterSink resolves by the same rules; the adapter is not deployed without it, since it
        // would then stop (or skip) where the user asked for dead-lettering.
        var deadLetterSink = placed.Delivery?.DeadLetterSink;
        string? deadLetterSinkUri = null;
        SinkResolutionException? deadLetterError = null;
        if (deadLetterSink is not null)
        {
            try
            {
                var resolution = await _sinks.ResolveAsync(placed, deadLetterSink, SinkResolver.DeadLetterSinkRole, cancellationToken).ConfigureAwait(false);
                deadLetterSinkUri = resolution.Uri;
                if (resolution.Warning is not null)
                {
                    _observer.Warn(resolution.Warning);
                }
            }
            catch (SinkResolutionException ex)
            {
                deadLetterError = ex;
            }
        }

        // The per-source objects, read before anything is written so the status can say what will be.
        var children = new List<(ResourceType Type, JsonObject Desired, JsonObject? Live)>();
        var serviceAccount = SourceObjects.ServiceAccount(placed);
        var deployment = sinkUri is null || (deadLetterSink is not null && deadLetterSinkUri is null)
            ? null
            : JsonTree.ToJson(SourceObjects.Deployment(placed, sinkUri, _options.Image, deadLetterSinkUri));
        var desiredChildren = new List<(ResourceType, JsonObject)>();
        if (serviceAccount is not null)
        {
            desiredChildren.Add((ResourceType.ServiceAccount, JsonTree.ToJson(serviceAccount)));
        }
        desiredChildren.Add((ResourceType.RoleBinding, JsonTree.ToJson(SourceObjects.RoleBinding(placed))));
        if (deployment is not null)
        {
            desiredChildren.Add((ResourceType.Deployment, deployment));
        }
        foreach (var (type, desired) in desiredChildren)
        {
            var live = uid is null ? null : await _api.GetAsync(type, placed.Namespace, NameOf(desired), cancellationToken).ConfigureAwait(false);
            children.Add((type, desired, live));
        }

        var objectName = SourceObjects.ObjectName(placed);
        var liveDeployment = uid is null ? null
            : children.FirstOrDefault(c => c.Type == ResourceType.Deployment).Live
              ?? (deployment is null ? await _api.GetAsync(ResourceType.Deployment, placed.Namespace, objectName, cancellationToken).ConfigureAwait(false) : null);
        var deploymentChanges = deployment is not null && liveDeployment is not null && ChangesBetween(deployment, liveDeployment).Count > 0;

        if (current is not null)
        {
            var deadLetter = deadLetterSink is null ? null : new DeadLetterResolution(deadLetterSinkUri, deadLetterError);
            await SyncStatusAsync(placed, current, crAction, sinkUri, sinkError, deadLetter, liveDeployment, deployment is not null, deploymentChanges, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            ReportPlanned(placed.EventSource, crType.Kind, placed.Namespace, placed.Name, ChangeVerb.Create, ["status.conditions", "status.sinkUri", "status.observedGeneration"], "status");
        }

        foreach (var (type, desired, live) in children)
        {
            if (uid is null)
            {
                // -WhatIf for a source that does not exist yet: the names end with the UID the cluster will assign.
                var pending = $"{SourceObjectNames.Prefix}{placed.Name}-<uid>";
                ReportPlanned(placed.EventSource, type.Kind, placed.Namespace, pending, ChangeVerb.Create, []);
                continue;
            }
            await ApplyObjectAsync(placed.EventSource, type, desired, live, cancellationToken).ConfigureAwait(false);
        }

        if (_options.Prune && uid is not null)
        {
            await PruneStaleAsync(placed, desiredChildren.ToDictionary(c => c.Item1, c => NameOf(c.Item2)), cancellationToken).ConfigureAwait(false);
        }

        if (sinkError is not null)
        {
            throw sinkError;
        }
        if (deadLetterError is not null)
        {
            throw deadLetterError;
        }
    }

    /// <summary>What became of spec.delivery.deadLetterSink (only when the source has one).</summary>
    private sealed record DeadLetterResolution(string? Uri, SinkResolutionException? Error);

    private void ReportPlanned(string? source, string kind, string? @namespace, string name, ChangeVerb verb, IReadOnlyList<string> changes, string? subresource = null)
    {
        var approval = _observer.Approve(new PlannedChange(source, kind, @namespace, name, verb, changes, subresource));
        var action = approval == Approval.Declined ? ChangeAction.Skipped : verb switch
        {
            ChangeVerb.Create => ChangeAction.WouldCreate,
            ChangeVerb.Configure => ChangeAction.WouldConfigure,
            _ => ChangeAction.WouldDelete,
        };
        _observer.Report(new ObjectChange(source, kind, @namespace, name, action, changes, subresource));
    }

    // ---- status ----------------------------------------------------------------------------------------------

    private async Task SyncStatusAsync(
        SourceDefinition source, JsonObject current, ChangeAction crAction, string? sinkUri, SinkResolutionException? sinkError,
        DeadLetterResolution? deadLetter, JsonObject? liveDeployment, bool deploymentWanted, bool deploymentChanges, CancellationToken cancellationToken)
    {
        var liveStatus = current["status"] as JsonObject;
        var objectName = SourceObjects.ObjectName(source);

        Condition sinkProvided = sinkError is null
            ? new("SinkProvided", "True", null, null)
            : new("SinkProvided", "False", "SinkNotFound", sinkError.Message);
        Condition? deadLetterResolved = deadLetter is null ? null
            : deadLetter.Error is null
                ? new("DeadLetterSinkResolved", "True", null, null)
                : new("DeadLetterSinkResolved", "False", "DeadLetterSinkNotFound", deadLetter.Error.Message);

        Condition deployed;
        var progressing = new Condition("Deployed", "Unknown", "DeploymentProgressing", $"The adapter Deployment {objectName} is not available yet.");
        if (!deploymentWanted)
        {
            deployed = new("Deployed", "Unknown", "NotDeployed", deadLetter is null
                ? "The adapter is deployed once the sink resolves."
                : "The adapter is deployed once the sink and the dead-letter sink resolve.");
        }
        else if (liveDeployment is null || deploymentChanges || FindCondition(liveDeployment, "Available") is null ||
                 (JsonTree.GetInt64(liveDeployment, "status", "observedGeneration") ?? 0) < (JsonTree.GetInt64(liveDeployment, "metadata", "generation") ?? 0))
        {
            // Being created or updated, or its controller has not looked at it yet.
            deployed = (JsonTree.GetInt64(liveDeployment, "status", "availableReplicas") ?? 0) > 0 && !deploymentChanges
                ? new("Deployed", "True", null, null)
                : progressing;
        }
        else if ((JsonTree.GetInt64(liveDeployment, "status", "availableReplicas") ?? 0) > 0)
        {
            deployed = new("Deployed", "True", null, null);
        }
        else
        {
            deployed = new("Deployed", "False", "DeploymentUnavailable", $"The adapter Deployment {objectName} has no available replica.");
        }

        var dependents = deadLetterResolved is null ? new[] { deployed, sinkProvided } : [deployed, sinkProvided, deadLetterResolved];
        var notTrue = dependents.FirstOrDefault(c => c.Status == "False") ?? dependents.FirstOrDefault(c => c.Status == "Unknown");
        var ready = notTrue is null ? new Condition("Ready", "True", null, null) : new Condition("Ready", notTrue.Status, notTrue.Reason, notTrue.Message);

        var liveConditions = (liveStatus?["conditions"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        var generation = JsonTree.GetInt64(current, "metadata", "generation");
        var now = _clock().ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

        var changes = new List<string>();
        var conditions = new JsonArray();
        var written = deadLetterResolved is null ? new[] { deployed, ready, sinkProvided } : [deployed, ready, sinkProvided, deadLetterResolved];
        if (deadLetterResolved is null && liveConditions.Any(c => JsonTree.GetString(c, "type") == "DeadLetterSinkResolved"))
        {
            changes.Add("status.conditions[DeadLetterSinkResolved] (removed)");
        }
        foreach (var condition in written)
        {
            var live = liveConditions.FirstOrDefault(c => JsonTree.GetString(c, "type") == condition.Type);
            var same = live is not null && JsonTree.GetString(live, "status") == condition.Status;
            if (live is null || !same || JsonTree.GetString(live, "reason") != condition.Reason || JsonTree.GetString(live, "message") != condition.Message)
            {
                changes.Add($"status.conditions[{condition.Type}]");
            }
            var node = new JsonObject { ["type"] = condition.Type, ["status"] = condition.Status };
            if (condition.Reason is not null)
            {
                node["reason"] = condition.Reason;
            }
            if (condition.Message is not null)
            {
                node["message"] = condition.Message;
            }
            node["lastTransitionTime"] = same ? JsonTree.GetString(live, "lastTransitionTime") ?? now : now;
            conditions.Add(node);
        }

        var status = new JsonObject();
        if (generation is not null)
        {
            status["observedGeneration"] = generation;
        }
        status["conditions"] = conditions;
        if (sinkUri is not null)
        {
            status["sinkUri"] = sinkUri;
        }
        if (JsonTree.GetString(liveStatus, "sinkUri") != sinkUri)
        {
            changes.Add("status.sinkUri");
        }
        if (deadLetter?.Uri is { } deadLetterSinkUri)
        {
            status["deadLetterSinkUri"] = deadLetterSinkUri;
        }
        if (JsonTree.GetString(liveStatus, "deadLetterSinkUri") != deadLetter?.Uri)
        {
            changes.Add("status.deadLetterSinkUri");
        }
        if (JsonTree.GetInt64(liveStatus, "observedGeneration") != generation || crAction == ChangeAction.WouldConfigure)
        {
            changes.Add("status.observedGeneration");
        }

        var kind = ResourceType.PostgresSource.Kind;
        if (changes.Count == 0)
        {
            _observer.Report(new ObjectChange(source.EventSource, kind, source.Namespace, source.Name, ChangeAction.Unchanged, [], "status"));
            return;
        }

        var verb = liveConditions.Count == 0 ? ChangeVerb.Create : ChangeVerb.Configure;
        var approval = _observer.Approve(new PlannedChange(source.EventSource, kind, source.Namespace, source.Name, verb, changes, "status"));
        if (approval != Approval.Approved)
        {
            ReportNotApplied(source.EventSource, kind, source.Namespace, source.Name, verb, approval, changes, "status");
            return;
        }
        var body = new JsonObject
        {
            ["apiVersion"] = PgSourceKube.ApiVersion,
            ["kind"] = kind,
            ["metadata"] = new JsonObject { ["name"] = source.Name, ["namespace"] = source.Namespace },
            ["status"] = status,
        };
        await _api.ApplyStatusAsync(ResourceType.PostgresSource, body, cancellationToken).ConfigureAwait(false);
        _observer.Report(new ObjectChange(source.EventSource, kind, source.Namespace, source.Name,
            verb == ChangeVerb.Create ? ChangeAction.Created : ChangeAction.Configured, changes, "status",
            $"Ready={ready.Status}" + (ready.Reason is null ? string.Empty : $" ({ready.Reason})")));
    }

    private sealed record Condition(string Type, string Status, string? Reason, string? Message);

    // ---- apply and delete ------------------------------------------------------------------------------------

    private async Task<(JsonObject? Result, ChangeAction Action)> ApplyObjectAsync(
        string? source, ResourceType type, JsonObject desired, JsonObject? live, CancellationToken cancellationToken)
    {
        var name = NameOf(desired);
        var @namespace = type.Namespaced ? JsonTree.GetString(desired, "metadata", "namespace") : null;
        var changes = live is null ? [] : ChangesBetween(desired, live);
        if (live is not null && changes.Count == 0)
        {
            _observer.Report(new ObjectChange(source, type.Kind, @namespace, name, ChangeAction.Unchanged, []));
            return (live, ChangeAction.Unchanged);
        }

        var verb = live is null ? ChangeVerb.Create : ChangeVerb.Configure;
        var approval = _observer.Approve(new PlannedChange(source, type.Kind, @namespace, name, verb, changes));
        if (approval != Approval.Approved)
        {
            return (null, ReportNotApplied(source, type.Kind, @namespace, name, verb, approval, changes));
        }

        var result = await _api.ApplyAsync(type, desired, _options.Force, cancellationToken).ConfigureAwait(false);
        var action = verb == ChangeVerb.Create ? ChangeAction.Created : ChangeAction.Configured;
        _observer.Report(new ObjectChange(source, type.Kind, @namespace, name, action, changes));
        return (result, action);
    }

    private ChangeAction ReportNotApplied(string? source, string kind, string? @namespace, string name, ChangeVerb verb, Approval approval, IReadOnlyList<string> changes, string? subresource = null)
    {
        var action = approval == Approval.Declined ? ChangeAction.Skipped : verb switch
        {
            ChangeVerb.Create => ChangeAction.WouldCreate,
            ChangeVerb.Configure => ChangeAction.WouldConfigure,
            _ => ChangeAction.WouldDelete,
        };
        _observer.Report(new ObjectChange(source, kind, @namespace, name, action, changes, subresource));
        return action;
    }

    /// <summary>Fields the apply would set differently, plus fields we set before and would now remove.</summary>
    private static List<string> ChangesBetween(JsonObject desired, JsonObject live)
    {
        var changes = JsonTree.Differences(desired, live);
        changes.AddRange(JsonTree.RemovedFields(live, desired, PgSourceKube.FieldManager).Select(path => path + " (removed)"));
        return changes;
    }

    private async Task<bool> DeleteObjectAsync(string source, ResourceType type, JsonObject live, bool foreground, CancellationToken cancellationToken)
    {
        var name = NameOf(live);
        var @namespace = type.Namespaced ? JsonTree.GetString(live, "metadata", "namespace") : null;
        var approval = _observer.Approve(new PlannedChange(source, type.Kind, @namespace, name, ChangeVerb.Delete, []));
        if (approval != Approval.Approved)
        {
            ReportNotApplied(source, type.Kind, @namespace, name, ChangeVerb.Delete, approval, []);
            return false;
        }
        var existed = await _api.DeleteAsync(type, @namespace, name, foreground, cancellationToken).ConfigureAwait(false);
        _observer.Report(new ObjectChange(source, type.Kind, @namespace, name, ChangeAction.Deleted, [], Message: existed ? null : "Already gone."));
        return true;
    }

    // ---- prune -----------------------------------------------------------------------------------------------

    /// <summary>Objects of a given source whose names are not the current ones (for example from an offline export).</summary>
    private async Task PruneStaleAsync(SourceDefinition source, IReadOnlyDictionary<ResourceType, string> expected, CancellationToken cancellationToken)
    {
        var selector = PgSourceKube.SelectorFor(SourceObjects.LabelValue(source.Name));
        foreach (var type in ResourceType.PerSourceKinds)
        {
            foreach (var item in await _api.ListAsync(type, source.Namespace, selector, cancellationToken).ConfigureAwait(false))
            {
                if (!expected.TryGetValue(type, out var name) || name != NameOf(item))
                {
                    _observer.Verbose($"{type.Kind} {source.Namespace}/{NameOf(item)} belongs to {source.EventSource} but is not one of its current objects.");
                    await DeleteObjectAsync(source.EventSource, type, item, foreground: false, cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

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
                    set.Name ??= EnvironmentValue(item, "NAME");
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
        var template = deployments.Concat(set.Jobs).Select(o => (Object: o, Container: Container(o))).FirstOrDefault(t => t.Container is not null);
        var uninstall = _options.RunUninstallJob;
        if (uninstall && template.Container is null)
        {
            _observer.Warn($"Cannot run the uninstall Job for {source}: there is no adapter Deployment (or earlier uninstall Job) to take its image and environment from; its database objects stay.");
            uninstall = false;
        }

        var allApproved = true;
        foreach (var deployment in deployments)
        {
            allApproved &= await DeleteObjectAsync(source, ResourceType.Deployment, deployment, foreground: uninstall, cancellationToken).ConfigureAwait(false);
        }

        if (uninstall)
        {
            var ran = await RunUninstallJobAsync(set, template.Object, template.Container!, waitForDeployments: allApproved ? deployments : [], cancellationToken).ConfigureAwait(false);
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
                await DeleteObjectAsync(source, type, item, foreground: false, cancellationToken).ConfigureAwait(false);
            }
        }
        if (set.Resource is not null)
        {
            await DeleteObjectAsync(source, ResourceType.PostgresSource, set.Resource, foreground: false, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Runs the adapter's "uninstall" mode as a Job and waits for it; the answer to running it (WhatIf and Declined: not run).</summary>
    private async Task<Approval> RunUninstallJobAsync(PruneSet set, JsonObject from, JsonObject container, IReadOnlyList<JsonObject> waitForDeployments, CancellationToken cancellationToken)
    {
        var source = set.Display;
        var image = JsonTree.GetString(container, "image") ?? _options.Image;
        var env = container["env"] is JsonArray array ? KubernetesJson.Deserialize<List<V1EnvVar>>(array.ToJsonString()) : [];
        var serviceAccount = JsonTree.GetString(from, "spec", "template", "spec", "serviceAccountName");
        var jobName = JsonTree.GetString(from, "kind") == ResourceType.Job.Kind ? NameOf(from) : SourceObjects.UninstallJobName(NameOf(from));
        // The uninstall connects as the adapter does: with the database CA it mounted, if any.
        var caVolume = env.Any(e => e.Name == AdapterSettings.DatabaseRootCertificate.Variable) && from["spec"]?["template"]?["spec"]?["volumes"] is JsonArray volumes
            ? volumes.OfType<JsonObject>().Where(v => JsonTree.GetString(v, "name") == SourceObjects.DatabaseCaVolumeName)
                .Select(v => KubernetesJson.Deserialize<V1Volume>(v.ToJsonString())).FirstOrDefault()
            : null;
        var job = JsonTree.ToJson(SourceObjects.UninstallJob(set.Namespace, jobName, set.Name ?? set.Label, image, env, serviceAccount, caVolume));

        var approval = _observer.Approve(new PlannedChange(source, ResourceType.Job.Kind, set.Namespace, jobName, ChangeVerb.Create, ["run the adapter with 'uninstall'"]));
        if (approval != Approval.Approved)
        {
            ReportNotApplied(source, ResourceType.Job.Kind, set.Namespace, jobName, ChangeVerb.Create, approval, ["run the adapter with 'uninstall'"]);
            return approval;
        }

        // The adapter must be stopped first: a Logical source's replication slot cannot be dropped while it is in use.
        var deadline = _clock() + _options.UninstallTimeout;
        foreach (var deployment in waitForDeployments)
        {
            while (await _api.GetAsync(ResourceType.Deployment, set.Namespace, NameOf(deployment), cancellationToken).ConfigureAwait(false) is not null)
            {
                if (_clock() >= deadline)
                {
                    throw new UninstallJobException($"The adapter Deployment {set.Namespace}/{NameOf(deployment)} of {source} was still being deleted after {_options.UninstallTimeout.TotalSeconds:0} s; the uninstall Job was not started. Run the prune again.");
                }
                await Task.Delay(_options.PollInterval, cancellationToken).ConfigureAwait(false);
            }
        }

        // An earlier Job of the same name (a failed attempt) is replaced.
        if (await _api.GetAsync(ResourceType.Job, set.Namespace, jobName, cancellationToken).ConfigureAwait(false) is not null)
        {
            await _api.DeleteAsync(ResourceType.Job, set.Namespace, jobName, foreground: true, cancellationToken).ConfigureAwait(false);
            while (await _api.GetAsync(ResourceType.Job, set.Namespace, jobName, cancellationToken).ConfigureAwait(false) is not null)
            {
                if (_clock() >= deadline)
                {
                    throw new UninstallJobException($"The earlier uninstall Job {set.Namespace}/{jobName} of {source} is still being deleted; run the prune again.");
                }
                await Task.Delay(_options.PollInterval, cancellationToken).ConfigureAwait(false);
            }
        }

        await _api.ApplyAsync(ResourceType.Job, job, force: true, cancellationToken).ConfigureAwait(false);
        _observer.Verbose($"Started Job {set.Namespace}/{jobName}: the adapter removes the database objects of {source}.");
        while (true)
        {
            var live = await _api.GetAsync(ResourceType.Job, set.Namespace, jobName, cancellationToken).ConfigureAwait(false);
            if ((JsonTree.GetInt64(live, "status", "succeeded") ?? 0) > 0 || ConditionStatus(live, "Complete") == "True")
            {
                _observer.Report(new ObjectChange(source, ResourceType.Job.Kind, set.Namespace, jobName, ChangeAction.Created, ["run the adapter with 'uninstall'"],
                    Message: "Completed: the adapter removed the source's database objects."));
                return Approval.Approved;
            }
            if (ConditionStatus(live, "Failed") == "True")
            {
                var reason = FindCondition(live, "Failed");
                throw new UninstallJobException(
                    $"The uninstall Job {set.Namespace}/{jobName} of {source} failed ({JsonTree.GetString(reason, "reason")}: {JsonTree.GetString(reason, "message")}). " +
                    "Its database objects may remain; its ServiceAccount, RoleBinding and PostgresSource are kept so the prune can be run again. See: kubectl logs job/" + jobName + " -n " + set.Namespace);
            }
            if (_clock() >= deadline)
            {
                throw new UninstallJobException(
                    $"The uninstall Job {set.Namespace}/{jobName} of {source} did not finish within {_options.UninstallTimeout.TotalSeconds:0} s. " +
                    "Its ServiceAccount, RoleBinding and PostgresSource are kept; check kubectl logs job/" + jobName + " -n " + set.Namespace);
            }
            await Task.Delay(_options.PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    // ---- small readers ---------------------------------------------------------------------------------------

    private static string NameOf(JsonObject item) => JsonTree.GetString(item, "metadata", "name") ?? string.Empty;

    private static bool IsManagedByUs(JsonObject item) =>
        JsonTree.GetString(item, "metadata", "labels", PgSourceKube.ManagedByLabel) == PgSourceKube.ManagedByValue;

    private static JsonObject? FindCondition(JsonObject? item, string type) =>
        (JsonTree.Get(item, "status", "conditions") as JsonArray)?.OfType<JsonObject>().FirstOrDefault(c => JsonTree.GetString(c, "type") == type);

    private static string? ConditionStatus(JsonObject? item, string type) => JsonTree.GetString(FindCondition(item, type), "status");

    private static JsonObject? Container(JsonObject workload)
    {
        var containers = (JsonTree.Get(workload, "spec", "template", "spec", "containers") as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        return containers.FirstOrDefault(c => JsonTree.GetString(c, "name") is PgSourceKube.ContainerName or PgSourceKube.UninstallComponent) ?? containers.FirstOrDefault();
    }

    private static string? EnvironmentValue(JsonObject workload, string name) =>
        (Container(workload)?["env"] as JsonArray)?.OfType<JsonObject>()
            .Where(e => JsonTree.GetString(e, "name") == name).Select(e => JsonTree.GetString(e, "value")).FirstOrDefault();
}
