using System.Net;
using System.Text.Json.Nodes;
using PostgresSource.Core.Hosting;
using PostgresSource.Core.Sources;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes.Controller;

/// <summary>
/// Reconciles one PostgresSource as the controller sees it: makes sure it carries the finalizer, reads its spec,
/// asks its adapter how it is, and hands the rest to <see cref="SourceReconciler"/> (the same code cluster sync runs,
/// so both produce the same objects and status). A resource being deleted goes to <see cref="SourceCleanup"/>.
/// Events tell of the transitions a user acts on: Ready changing, the adapter deployed or rolled.
/// </summary>
internal sealed class SourceController(IClusterApi api, ControllerOptions options, EventRecorder events, AdapterProbe probe, Func<DateTimeOffset> clock, JsonLog log)
{
    private readonly SinkResolver _sinks = new(api);
    private readonly SourceCleanup _cleanup = new(api, options, events, clock, log);

    public async Task<ReconcileResult> ReconcileAsync(string key, JsonObject current, CancellationToken cancellationToken)
    {
        if (current["metadata"]?["deletionTimestamp"] is not null)
        {
            return await _cleanup.FinalizeAsync(key, current, cancellationToken).ConfigureAwait(false);
        }
        var finalizers = Finalizers(current);
        if (!finalizers.Contains(PgSourceKube.Finalizer))
        {
            try
            {
                current = await api.SetFinalizersAsync(ResourceType.PostgresSource, Namespace(current), Name(current), [.. finalizers, PgSourceKube.Finalizer],
                    JsonTree.GetString(current, "metadata", "resourceVersion") ?? string.Empty, cancellationToken).ConfigureAwait(false);
            }
            catch (ClusterRequestException ex) when (ex.StatusCode == HttpStatusCode.Conflict)
            {
                return ReconcileResult.In(TimeSpan.Zero); // changed meanwhile: the watch brings the newer one
            }
        }

        var (source, problem) = Read(current);
        if (source is null)
        {
            // Nothing is deployed from a spec that cannot be read; the watch brings the fixed one.
            var invalid = new Condition("Ready", "False", "InvalidSpec", $"The spec cannot be reconciled: {problem} Fix the resource; the controller tries again when it changes.");
            await WriteReadyAsync(api, current, invalid, clock(), cancellationToken).ConfigureAwait(false);
            await RecordTransitionAsync(current, SourceStatus.ReadyOf(current), invalid, cancellationToken).ConfigureAwait(false);
            return ReconcileResult.Resync;
        }
        var placed = Place(source, current);
        var adapter = await probe.ObserveAsync(placed, cancellationToken).ConfigureAwait(false);
        var observer = new ControllerObserver(log, key);
        var reconciler = new SourceReconciler(new ObjectWriter(api, observer, force: true), _sinks, options.AdapterImage, clock);
        var before = SourceStatus.ReadyOf(current);
        Condition after;
        try
        {
            after = (await reconciler.ReconcileAsync(placed, current, ChangeAction.Unchanged, adapter, pruneStale: false, cancellationToken).ConfigureAwait(false)).Ready;
        }
        catch (SinkResolutionException)
        {
            // The status already says which sink is missing; it is looked up again at the next resync.
            after = SourceStatus.ReadyOf(await api.GetAsync(ResourceType.PostgresSource, placed.Namespace, placed.Name, cancellationToken).ConfigureAwait(false));
        }
        await RecordWritesAsync(current, observer, cancellationToken).ConfigureAwait(false);
        await RecordTransitionAsync(current, before, after, cancellationToken).ConfigureAwait(false);
        return ReconcileResult.Resync;
    }

    /// <summary>The spec as a source, or why it cannot be one (the reader's and the validation's words).</summary>
    public static (SourceDefinition? Source, string? Problem) Read(JsonObject current)
    {
        var key = $"{Namespace(current)}/{Name(current)}";
        try
        {
            var read = SourceManifestReader.Read(current.ToJsonString(), key);
            if (read.Errors.Count == 0 && read.Sources.Count == 1)
            {
                var source = read.Sources[0];
                source.Validate();
                return (source, null);
            }
            return (null, read.Errors.Count > 0 ? string.Join("; ", read.Errors.Select(e => e.Message)) : "the resource is not a PostgresSource this controller reads.");
        }
        catch (Exception ex) when (ex is ManifestException or SourceValidationException)
        {
            return (null, ex.Message);
        }
    }

    private async Task RecordWritesAsync(JsonObject current, ControllerObserver observer, CancellationToken cancellationToken)
    {
        foreach (var write in observer.Writes.Where(w => w.Kind == ResourceType.Deployment.Kind && w.Subresource is null))
        {
            var (reason, note) = write.Action == ChangeAction.Created
                ? ("AdapterDeployed", $"Created the adapter Deployment {write.Name}.")
                : ("AdapterUpdated", $"Updated the adapter Deployment {write.Name} ({string.Join(", ", write.Changes)}); its pods roll.");
            await events.RecordAsync(current, warning: false, reason, "Reconcile", note, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task RecordTransitionAsync(JsonObject current, Condition before, Condition after, CancellationToken cancellationToken)
    {
        if (before.Status == after.Status && before.Reason == after.Reason)
        {
            return;
        }
        var note = after.Status == "True" ? "The source is ready: its adapter is deployed, connected and delivering." : after.Message ?? after.Reason ?? "Not ready.";
        await events.RecordAsync(current, warning: after.Status == "False", after.Status == "True" ? "Ready" : after.Reason ?? "NotReady", "Reconcile", note, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sets the Ready condition alone (status subresource, same field manager as the reconciler's status).</summary>
    public static async Task WriteReadyAsync(IClusterApi api, JsonObject current, Condition ready, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (SourceStatus.WithReady(current, ready, now) is not { } status)
        {
            return;
        }
        await api.ApplyStatusAsync(ResourceType.PostgresSource, new JsonObject
        {
            ["apiVersion"] = PgSourceKube.ApiVersion,
            ["kind"] = PgSourceKube.Kind,
            ["metadata"] = new JsonObject { ["name"] = Name(current), ["namespace"] = Namespace(current) },
            ["status"] = status,
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The source with the cluster's namespace, UID and generation: what names its objects.</summary>
    public static SourceDefinition Place(SourceDefinition source, JsonObject current) => source with
    {
        Namespace = Namespace(current),
        Uid = SourceUid.NormalizeOptional(JsonTree.GetString(current, "metadata", "uid"), "metadata.uid"),
        Generation = JsonTree.GetInt64(current, "metadata", "generation"),
    };

    public static List<string> Finalizers(JsonObject item) =>
        (JsonTree.Get(item, "metadata", "finalizers") as JsonArray ?? []).Select(f => f?.GetValue<string>()).OfType<string>().ToList();

    public static string Namespace(JsonObject item) => JsonTree.GetString(item, "metadata", "namespace") ?? "default";

    public static string Name(JsonObject item) => JsonTree.GetString(item, "metadata", "name") ?? string.Empty;
}
