using PostgresSource.Core.Diagnostics;
using PostgresSource.Core.Hosting;

namespace PostgresSource.Kubernetes.Controller;

/// <summary>
/// The reconciler's observer inside the controller: every write is approved (the controller owns these objects),
/// writes and warnings go to the log, and the writes of one reconcile are kept so Events can tell of them.
/// </summary>
internal sealed class ControllerObserver(JsonLog log, string key) : ISyncObserver
{
    public List<ObjectChange> Writes { get; } = [];

    public Approval Approve(PlannedChange change) => Approval.Approved;

    public void Report(ObjectChange change)
    {
        if (change.Action is ChangeAction.Created or ChangeAction.Configured or ChangeAction.Deleted)
        {
            Writes.Add(change);
            log.Info($"{change.Action} {change.Kind}{(change.Subresource is null ? string.Empty : "/" + change.Subresource)} {change.Namespace}/{change.Name}",
                ("source", key), ("changes", change.Changes.Count == 0 ? null : string.Join(", ", change.Changes)));
        }
    }

    public void Warn(string message, Remedy remedy = Remedy.None) => log.Warn(message, ("source", key));

    public void Verbose(string message)
    {
        // The reconciler's step-by-step notes are for interactive sync; the controller logs outcomes.
    }

    public void Progress(int done, int total, string activity)
    {
    }

    public void Failed(string source, Exception error) => log.Error(error.Message, ("source", source));
}
