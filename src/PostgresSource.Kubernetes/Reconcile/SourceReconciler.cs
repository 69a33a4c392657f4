using System.Text.Json.Nodes;
using PostgresSource.Kubernetes.Manifests;
using PostgresSource.Core.Naming;
using PostgresSource.Core.Sources;

namespace PostgresSource.Kubernetes;

/// <summary>
/// What the cluster should hold for one PostgresSource, and making it so: resolve the sink (and the dead-letter
/// sink), apply the ServiceAccount, RoleBinding and adapter Deployment by server-side apply (a changed spec or sink
/// changes the Deployment's pod template, which rolls it), and write the status. Cluster sync calls it after applying
/// the resource from a definition; the controller calls it for the resource it watched. One implementation, so both
/// produce the same objects.
/// </summary>
internal sealed class SourceReconciler(ObjectWriter writer, SinkResolver sinks, string image, Func<DateTimeOffset> clock)
{
    public sealed record Outcome(string? SinkUri, Condition Ready, bool Wrote);

    /// <param name="placed">The source with the cluster's UID and generation.</param>
    /// <param name="current">The live PostgresSource; null only under -WhatIf for one that does not exist yet.</param>
    /// <param name="resourceAction">What became of the resource itself just before (WouldConfigure: its spec is about to change).</param>
    /// <param name="adapter">The adapter's report (controller only).</param>
    /// <param name="pruneStale">Also remove this source's objects whose names are not the current ones.</param>
    public async Task<Outcome> ReconcileAsync(SourceDefinition placed, JsonObject? current, ChangeAction resourceAction, AdapterObservation? adapter,
        bool pruneStale, CancellationToken cancellationToken)
    {
        var observer = writer.Observer;
        var api = writer.Api;
        var uid = placed.Uid;

        SinkResolver.Resolution? sink = null;
        SinkResolutionException? sinkError = null;
        try
        {
            var resolution = await sinks.ResolveAsync(placed, cancellationToken).ConfigureAwait(false);
            sink = resolution;
            if (resolution.Warning is not null)
            {
                observer.Warn(resolution.Warning);
            }
        }
        catch (SinkResolutionException ex)
        {
            sinkError = ex;
        }

        // spec.delivery.deadLetterSink resolves by the same rules; the adapter is not deployed without it, since it
        // would then stop (or skip) where the user asked for dead-lettering.
        var deadLetterSink = placed.Delivery?.DeadLetterSink;
        SinkResolver.Resolution? deadLetter = null;
        SinkResolutionException? deadLetterError = null;
        if (deadLetterSink is not null)
        {
            try
            {
                var resolution = await sinks.ResolveAsync(placed, deadLetterSink, SinkResolver.DeadLetterSinkRole, cancellationToken).ConfigureAwait(false);
                deadLetter = resolution;
                if (resolution.Warning is not null)
                {
                    observer.Warn(resolution.Warning);
                }
            }
            catch (SinkResolutionException ex)
            {
                deadLetterError = ex;
            }
        }

        // The per-source objects, read before anything is written so the status can say what will be.
        var desiredChildren = DesiredChildren(placed, sink, deadLetter, deployable: sink is not null && (deadLetterSink is null || deadLetter is not null));
        var children = new List<(ResourceType Type, JsonObject Desired, JsonObject? Live)>();
        foreach (var (type, desired) in desiredChildren)
        {
            var live = uid is null ? null : await api.GetAsync(type, placed.Namespace, ObjectWriter.NameOf(desired), cancellationToken).ConfigureAwait(false);
            children.Add((type, desired, live));
        }

        var deployment = desiredChildren.FirstOrDefault(c => c.Type == ResourceType.Deployment).Desired;
        var liveDeployment = uid is null ? null
            : children.FirstOrDefault(c => c.Type == ResourceType.Deployment).Live
              ?? (deployment is null ? await api.GetAsync(ResourceType.Deployment, placed.Namespace, SourceObjects.ObjectName(placed), cancellationToken).ConfigureAwait(false) : null);
        var deploymentChanges = deployment is not null && liveDeployment is not null && ObjectWriter.ChangesBetween(deployment, liveDeployment).Count > 0;

        var wrote = false;
        var ready = new Condition("Ready", "Unknown", null, null);
        if (current is not null)
        {
            var status = SourceStatus.Build(new SourceStatus.Inputs(placed, current, sink, sinkError, deadLetterSink is not null, deadLetter, deadLetterError,
                liveDeployment, deployment is not null, deploymentChanges, adapter, clock()));
            ready = status.Ready;
            wrote |= await WriteStatusAsync(placed, status, resourceAction, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            List<string> planned = ["status.conditions", "status.sinkUri", "status.observedGeneration"];
            planned.AddRange(new[] { ("status.sinkCACerts", sink?.CaCerts), ("status.sinkAudience", sink?.Audience) }.Where(f => f.Item2 is not null).Select(f => f.Item1));
            writer.ReportPlanned(placed.EventSource, ResourceType.PostgresSource.Kind, placed.Namespace, placed.Name, ChangeVerb.Create, planned, "status");
        }

        foreach (var (type, desired, live) in children)
        {
            if (uid is null)
            {
                // -WhatIf for a source that does not exist yet: the names end with the UID the cluster will assign.
                writer.ReportPlanned(placed.EventSource, type.Kind, placed.Namespace, $"{SourceObjectNames.Prefix}{placed.Name}-<uid>", ChangeVerb.Create, []);
                continue;
            }
            var (_, action) = await writer.ApplyAsync(placed.EventSource, type, desired, live, cancellationToken).ConfigureAwait(false);
            wrote |= action is ChangeAction.Created or ChangeAction.Configured;
        }

        if (pruneStale && uid is not null)
        {
            wrote |= await PruneStaleAsync(placed, desiredChildren.ToDictionary(c => c.Type, c => ObjectWriter.NameOf(c.Desired)), cancellationToken).ConfigureAwait(false);
        }

        if (sinkError is not null)
        {
            throw sinkError;
        }
        if (deadLetterError is not null)
        {
            throw deadLetterError;
        }
        return new Outcome(sink?.Uri, ready, wrote);
    }

    /// <summary>The per-source objects in the order they are applied; the Deployment only when it can run.</summary>
    public List<(ResourceType Type, JsonObject Desired)> DesiredChildren(SourceDefinition placed, SinkResolver.Resolution? sink, SinkResolver.Resolution? deadLetter,
        bool deployable)
    {
        var desired = new List<(ResourceType, JsonObject)>();
        if (SourceObjects.ServiceAccount(placed) is { } serviceAccount)
        {
            desired.Add((ResourceType.ServiceAccount, JsonTree.ToJson(serviceAccount)));
        }
        desired.Add((ResourceType.RoleBinding, JsonTree.ToJson(SourceObjects.RoleBinding(placed))));
        if (deployable && sink is not null)
        {
            desired.Add((ResourceType.Deployment, JsonTree.ToJson(SourceObjects.Deployment(placed, sink, image, deadLetter))));
        }
        return desired;
    }

    private async Task<bool> WriteStatusAsync(SourceDefinition source, SourceStatus.Result status, ChangeAction resourceAction, CancellationToken cancellationToken)
    {
        var observer = writer.Observer;
        var kind = ResourceType.PostgresSource.Kind;
        var changes = status.Changes.ToList();
        if (resourceAction == ChangeAction.WouldConfigure && !changes.Contains("status.observedGeneration"))
        {
            changes.Add("status.observedGeneration");
        }
        if (changes.Count == 0)
        {
            observer.Report(new ObjectChange(source.EventSource, kind, source.Namespace, source.Name, ChangeAction.Unchanged, [], "status"));
            return false;
        }

        var verb = status.HadConditions ? ChangeVerb.Configure : ChangeVerb.Create;
        var approval = observer.Approve(new PlannedChange(source.EventSource, kind, source.Namespace, source.Name, verb, changes, "status"));
        if (approval != Approval.Approved)
        {
            writer.ReportNotApplied(source.EventSource, kind, source.Namespace, source.Name, verb, approval, changes, "status");
            return false;
        }
        var body = new JsonObject
        {
            ["apiVersion"] = PgSourceKube.ApiVersion,
            ["kind"] = kind,
            ["metadata"] = new JsonObject { ["name"] = source.Name, ["namespace"] = source.Namespace },
            ["status"] = status.Status,
        };
        await writer.Api.ApplyStatusAsync(ResourceType.PostgresSource, body, cancellationToken).ConfigureAwait(false);
        observer.Report(new ObjectChange(source.EventSource, kind, source.Namespace, source.Name,
            verb == ChangeVerb.Create ? ChangeAction.Created : ChangeAction.Configured, changes, "status",
            $"Ready={status.Ready.Status}" + (status.Ready.Reason is null ? string.Empty : $" ({status.Ready.Reason})")));
        return true;
    }

    /// <summary>Objects of a given source whose names are not the current ones (for example from an offline export).</summary>
    private async Task<bool> PruneStaleAsync(SourceDefinition source, IReadOnlyDictionary<ResourceType, string> expected, CancellationToken cancellationToken)
    {
        var deleted = false;
        var selector = PgSourceKube.SelectorFor(SourceObjects.LabelValue(source.Name));
        foreach (var type in ResourceType.PerSourceKinds)
        {
            foreach (var item in await writer.Api.ListAsync(type, source.Namespace, selector, cancellationToken).ConfigureAwait(false))
            {
                if (!expected.TryGetValue(type, out var name) || name != ObjectWriter.NameOf(item))
                {
                    writer.Observer.Verbose($"{type.Kind} {source.Namespace}/{ObjectWriter.NameOf(item)} belongs to {source.EventSource} but is not one of its current objects.");
                    deleted |= await writer.DeleteAsync(source.EventSource, type, item, foreground: false, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        return deleted;
    }
}
