using System.Text.Json.Nodes;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes;

/// <summary>
/// Writes one object the way every writer here must: read first, apply only what would change (server-side apply),
/// ask the observer before each write, report what happened. Cluster sync and the controller share it, so "a second
/// run changes nothing" holds for both.
/// </summary>
internal sealed class ObjectWriter(IClusterApi api, ISyncObserver observer, bool force)
{
    public ISyncObserver Observer { get; } = observer;

    public IClusterApi Api { get; } = api;

    public async Task<(JsonObject? Result, ChangeAction Action)> ApplyAsync(
        string? source, ResourceType type, JsonObject desired, JsonObject? live, CancellationToken cancellationToken)
    {
        var name = NameOf(desired);
        var @namespace = type.Namespaced ? JsonTree.GetString(desired, "metadata", "namespace") : null;
        var changes = live is null ? [] : ChangesBetween(desired, live);
        if (live is not null && changes.Count == 0)
        {
            Observer.Report(new ObjectChange(source, type.Kind, @namespace, name, ChangeAction.Unchanged, []));
            return (live, ChangeAction.Unchanged);
        }

        var verb = live is null ? ChangeVerb.Create : ChangeVerb.Configure;
        var approval = Observer.Approve(new PlannedChange(source, type.Kind, @namespace, name, verb, changes));
        if (approval != Approval.Approved)
        {
            return (null, ReportNotApplied(source, type.Kind, @namespace, name, verb, approval, changes));
        }

        var result = await Api.ApplyAsync(type, desired, force, cancellationToken).ConfigureAwait(false);
        var action = verb == ChangeVerb.Create ? ChangeAction.Created : ChangeAction.Configured;
        Observer.Report(new ObjectChange(source, type.Kind, @namespace, name, action, changes));
        return (result, action);
    }

    public async Task<bool> DeleteAsync(string source, ResourceType type, JsonObject live, bool foreground, CancellationToken cancellationToken)
    {
        var name = NameOf(live);
        var @namespace = type.Namespaced ? JsonTree.GetString(live, "metadata", "namespace") : null;
        var approval = Observer.Approve(new PlannedChange(source, type.Kind, @namespace, name, ChangeVerb.Delete, []));
        if (approval != Approval.Approved)
        {
            ReportNotApplied(source, type.Kind, @namespace, name, ChangeVerb.Delete, approval, []);
            return false;
        }
        var existed = await Api.DeleteAsync(type, @namespace, name, foreground, cancellationToken).ConfigureAwait(false);
        Observer.Report(new ObjectChange(source, type.Kind, @namespace, name, ChangeAction.Deleted, [], Message: existed ? null : "Already gone."));
        return true;
    }

    /// <summary>Asks about a write that cannot be made yet (-WhatIf for an object whose name is not known), and reports it.</summary>
    public void ReportPlanned(string? source, string kind, string? @namespace, string name, ChangeVerb verb, IReadOnlyList<string> changes, string? subresource = null)
    {
        var approval = Observer.Approve(new PlannedChange(source, kind, @namespace, name, verb, changes, subresource));
        ReportNotApplied(source, kind, @namespace, name, verb, approval == Approval.Declined ? Approval.Declined : Approval.WhatIf, changes, subresource);
    }

    public ChangeAction ReportNotApplied(string? source, string kind, string? @namespace, string name, ChangeVerb verb, Approval approval, IReadOnlyList<string> changes, string? subresource = null)
    {
        var action = approval == Approval.Declined ? ChangeAction.Skipped : verb switch
        {
            ChangeVerb.Create => ChangeAction.WouldCreate,
            ChangeVerb.Configure => ChangeAction.WouldConfigure,
            _ => ChangeAction.WouldDelete,
        };
        Observer.Report(new ObjectChange(source, kind, @namespace, name, action, changes, subresource));
        return action;
    }

    /// <summary>Fields the apply would set differently, plus fields we set before and would now remove.</summary>
    public static List<string> ChangesBetween(JsonObject desired, JsonObject live)
    {
        var changes = JsonTree.Differences(desired, live);
        changes.AddRange(JsonTree.RemovedFields(live, desired, PgSourceKube.FieldManager).Select(path => path + " (removed)"));
        return changes;
    }

    public static string NameOf(JsonObject item) => JsonTree.GetString(item, "metadata", "name") ?? string.Empty;
}
