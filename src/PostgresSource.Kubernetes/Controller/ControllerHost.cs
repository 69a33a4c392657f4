using PostgresSource.Core.Hosting;

namespace PostgresSource.Kubernetes.Controller;

/// <summary>
/// The controller's run: elect a leader; while leading, watch the PostgresSources of the configured namespaces (one
/// informer each, or one for all), and the objects their sinks address; queue every changed key, and reconcile with
/// a few workers. Every source is looked at again each resync interval (sink addresses and the adapter's state change without the resource changing);
/// failures wait with a growing backoff. Cancelling stops the workers after the reconcile in hand, then hands the
/// Lease back.
/// </summary>
internal sealed class ControllerHost(IClusterApi api, ControllerOptions options, HttpClient http, Func<DateTimeOffset> clock, JsonLog log)
{
    private readonly List<ResourceInformer> _informers = [];
    private WorkQueue? _queue;
    private EventRecorder? _events;

    public LeaseElector Elector { get; } = new(api, options, clock, log);

    public ControllerMetrics Metrics { get; } = new();

    /// <summary>True while leading with every informer listed (or while standing by).</summary>
    public bool Ready => !Elector.IsLeader || (_informers.Count > 0 && _informers.All(i => i.Synced.IsCompletedSuccessfully));

    /// <summary>Full lists of PostgresSources so far (the first, and one after each expired watch).</summary>
    public int Lists => _informers.Sum(i => i.Lists);

    public int Sources => _informers.Sum(i => i.Keys.Count());

    public string RenderMetrics() =>
        Metrics.Render(Elector.IsLeader, Sources, _queue?.Depth ?? 0, Lists, _events?.Recorded ?? 0);

    public Task RunAsync(CancellationToken cancellationToken) => Elector.RunAsync(LeadAsync, cancellationToken);

    private async Task LeadAsync(CancellationToken cancellationToken)
    {
        using var queue = new WorkQueue(options.BackoffBase, options.BackoffMax);
        var events = new EventRecorder(api, options.Identity, clock, log);
        var controller = new SourceController(api, options, events, new AdapterProbe(api, http, options.AdapterRoute), clock, log);
        IReadOnlyList<string?> namespaces = options.Namespaces.Count == 0 ? [null] : [.. options.Namespaces];
        lock (_informers)
        {
            _informers.Clear();
            _informers.AddRange(namespaces.Select(ns => new ResourceInformer(api, ResourceType.PostgresSource, ns, queue.Add, log, options.RetryInterval)));
        }
        (_queue, _events) = (queue, events);
        var sinks = new SinkWatcher(api, namespaces, queue.Add, log, options.RetryInterval, cancellationToken);

        var watching = _informers.Select(i => Task.Run(() => i.RunAsync(cancellationToken), CancellationToken.None)).ToList();
        var workers = Enumerable.Range(0, Math.Max(1, options.Workers))
            .Select(_ => Task.Run(() => WorkAsync(queue, controller, sinks, cancellationToken), CancellationToken.None)).ToList();
        var resync = Task.Run(() => ResyncAsync(queue, cancellationToken), CancellationToken.None);
        await Task.WhenAll([.. watching, .. workers, resync]).ConfigureAwait(false);
        await sinks.Stopped.ConfigureAwait(false);
        log.Info("Stopped reconciling.", ("identity", options.Identity), ("reconciles", Metrics.Reconciles));
    }

    private async Task WorkAsync(WorkQueue queue, SourceController controller, SinkWatcher sinks, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            string key;
            try
            {
                key = await queue.TakeAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            try
            {
                var current = Find(key);
                sinks.Update(key, current);
                if (current is null)
                {
                    queue.Forget(key); // deleted: nothing left to do
                    continue;
                }
                var result = await controller.ReconcileAsync(key, current, cancellationToken).ConfigureAwait(false);
                Metrics.Reconciled();
                if (result.Backoff)
                {
                    queue.AddAfter(key, queue.Failed(key));
                }
                else if (result.After is { } after)
                {
                    queue.AddAfter(key, after);
                }
                else
                {
                    queue.Forget(key);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            // Whatever one source does wrong, the others are still reconciled.
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Metrics.Failed();
                var delay = queue.Failed(key);
                log.Error($"Reconciling failed; trying again in {delay.TotalSeconds:0.#} s.", ("source", key), ("error", ex.Message));
                queue.AddAfter(key, delay);
            }
            finally
            {
                queue.Done(key);
            }
        }
    }

    /// <summary>Every watched source again each resync interval.</summary>
    private async Task ResyncAsync(WorkQueue queue, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.ResyncInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                foreach (var key in _informers.SelectMany(i => i.Keys).ToList())
                {
                    queue.Add(key);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    private System.Text.Json.Nodes.JsonObject? Find(string key) =>
        _informers.Select(i => i.Get(key)).FirstOrDefault(item => item is not null);
}
