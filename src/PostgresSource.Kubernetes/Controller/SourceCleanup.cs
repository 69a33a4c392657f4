using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using PostgresSource.Core.Hosting;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes.Controller;

/// <summary>
/// The finalizer's work for a PostgresSource being deleted, one step per reconcile so no worker waits: stop the
/// adapter (its Deployment is deleted; a slot in use cannot be dropped), run the adapter's "uninstall" mode as a
/// Job, and release the finalizer only when that Job succeeded. A failed Job keeps the finalizer, says why in the
/// Ready condition and a Warning Event, and is retried with backoff; nothing is lost by waiting, and the user can
/// force removal (docs/controller.md).
/// </summary>
internal sealed class SourceCleanup(IClusterApi api, ControllerOptions options, EventRecorder events, Func<DateTimeOffset> clock, JsonLog log)
{
    // The Job UIDs whose failure was reported (the next look replaces the Job) and when each running Job was first seen.
    private readonly ConcurrentDictionary<string, bool> _reportedFailures = new();
    private readonly ConcurrentDictionary<string, DateTimeOffset> _firstSeen = new();

    public async Task<ReconcileResult> FinalizeAsync(string key, JsonObject current, CancellationToken cancellationToken)
    {
        var finalizers = SourceController.Finalizers(current);
        if (!finalizers.Contains(PgSourceKube.Finalizer))
        {
            return ReconcileResult.Resync; // not ours to hold (or already released): Kubernetes removes it
        }
        var (source, problem) = SourceController.Read(current);
        if (source is null)
        {
            await ReportAsync(current, warning: true, "CannotUninstall",
                $"The resource is being deleted, but its spec cannot be read ({problem}), so its database objects cannot be removed. " +
                ForceRemoval(current), cancellationToken).ConfigureAwait(false);
            return ReconcileResult.Resync;
        }
        var placed = SourceController.Place(source, current);
        var deploymentName = SourceObjects.ObjectName(placed);

        // 1. The adapter stops first.
        if (await api.GetAsync(ResourceType.Deployment, placed.Namespace, deploymentName, cancellationToken).ConfigureAwait(false) is not null)
        {
            await api.DeleteAsync(ResourceType.Deployment, placed.Namespace, deploymentName, foreground: true, cancellationToken).ConfigureAwait(false);
            log.Info($"Deleting Deployment {placed.Namespace}/{deploymentName}: the adapter stops before its database objects are removed.", ("source", key));
            await ReportAsync(current, warning: false, "StoppingAdapter",
                $"The resource is being deleted: the adapter Deployment {deploymentName} is stopping; its database objects are removed next.", cancellationToken).ConfigureAwait(false);
            return ReconcileResult.In(options.PollInterval);
        }

        // 2. The uninstall Job, from what the adapter would run (image, environment, ServiceAccount).
        var jobName = SourceObjects.UninstallJobName(deploymentName);
        var job = await api.GetAsync(ResourceType.Job, placed.Namespace, jobName, cancellationToken).ConfigureAwait(false);
        var jobUid = JsonTree.GetString(job, "metadata", "uid") ?? string.Empty;
        var logs = $"kubectl logs job/{jobName} -n {placed.Namespace}";
        switch (UninstallJobRunner.StateOf(job))
        {
            case UninstallJobRunner.JobState.Missing:
                var adapter = JsonTree.ToJson(SourceObjects.Deployment(placed, "http://sink.invalid", options.AdapterImage));
                var desired = UninstallJobRunner.JobFor(placed.Namespace, placed.Name, adapter, UninstallJobRunner.Container(adapter)!, options.AdapterImage);
                await api.ApplyAsync(ResourceType.Job, desired, force: true, cancellationToken).ConfigureAwait(false);
                log.Info($"Started Job {placed.Namespace}/{jobName}: the adapter removes the source's database objects.", ("source", key));
                await ReportAsync(current, warning: false, "Uninstalling",
                    $"The resource is being deleted: Job {jobName} removes its database objects (function, triggers, journal or slot). See: {logs}", cancellationToken).ConfigureAwait(false);
                return ReconcileResult.In(options.PollInterval);

            case UninstallJobRunner.JobState.Running:
                var since = _firstSeen.GetOrAdd(jobUid, _ => clock());
                if (clock() - since >= options.UninstallTimeout)
                {
                    await ReportAsync(current, warning: true, "UninstallStuck",
                        $"The uninstall Job {jobName} has run for over {options.UninstallTimeout.TotalMinutes:0.#} min without finishing; the finalizer stays until it does. " +
                        $"See: {logs} and kubectl describe job/{jobName} -n {placed.Namespace}. {ForceRemoval(current)}", cancellationToken).ConfigureAwait(false);
                }
                return ReconcileResult.In(options.PollInterval);

            case UninstallJobRunner.JobState.Failed:
                _firstSeen.TryRemove(jobUid, out _);
                if (_reportedFailures.TryAdd(jobUid, true))
                {
                    await ReportAsync(current, warning: true, "UninstallFailed",
                        $"The uninstall Job {jobName} failed ({UninstallJobRunner.FailureOf(job)}): the source's database objects remain, so the finalizer stays. " +
                        $"See: {logs}. If the database cannot be reached, fix that (or the connection Secret) and the controller retries with backoff. {ForceRemoval(current)}",
                        cancellationToken).ConfigureAwait(false);
                    return ReconcileResult.Retry;
                }
                // Reported at the last look: the next attempt replaces the Job.
                _reportedFailures.TryRemove(jobUid, out _);
                await api.DeleteAsync(ResourceType.Job, placed.Namespace, jobName, foreground: true, cancellationToken).ConfigureAwait(false);
                return ReconcileResult.In(options.PollInterval);

            default:
                _firstSeen.TryRemove(jobUid, out _);
                await events.RecordAsync(current, warning: false, "Uninstalled", "Finalize",
                    $"Job {jobName} removed the source's database objects; the finalizer is released.", cancellationToken).ConfigureAwait(false);
                try
                {
                    await api.SetFinalizersAsync(ResourceType.PostgresSource, placed.Namespace, placed.Name,
                        finalizers.Where(f => f != PgSourceKube.Finalizer).ToList(),
                        JsonTree.GetString(current, "metadata", "resourceVersion") ?? string.Empty, cancellationToken).ConfigureAwait(false);
                }
                catch (ClusterRequestException ex) when (ex.StatusCode == HttpStatusCode.Conflict)
                {
                    return ReconcileResult.In(TimeSpan.Zero); // changed meanwhile: looked at again with the newer one
                }
                log.Info("Released the finalizer: the source's database objects are removed.", ("source", key));
                return ReconcileResult.Resync;
        }
    }

    /// <summary>Ready False with the step, and an Event when the step is new.</summary>
    private async Task ReportAsync(JsonObject current, bool warning, string reason, string message, CancellationToken cancellationToken)
    {
        var before = SourceStatus.ReadyOf(current);
        await SourceController.WriteReadyAsync(api, current, new Condition("Ready", "False", reason, message), clock(), cancellationToken).ConfigureAwait(false);
        if (before.Reason != reason)
        {
            await events.RecordAsync(current, warning, reason, "Finalize", message, cancellationToken).ConfigureAwait(false);
        }
    }

    private static string ForceRemoval(JsonObject current) =>
        $"To remove the resource without uninstalling: kubectl patch postgressource {SourceController.Name(current)} -n {SourceController.Namespace(current)} " +
        "--type=merge -p '{\"metadata\":{\"finalizers\":null}}' (then remove the database objects with Uninstall-PgSourceTrigger).";
}
