using System.Text.Json.Nodes;
using PostgresSource.Core.Hosting;

namespace PostgresSource.Kubernetes.Controller;

/// <summary>
/// Watches the kinds the sources' sinks address (Brokers, Knative Services, Channels, ...), one informer per kind
/// and watched namespace, started the first time a source addresses that kind. A change of an addressed object
/// queues the sources that address it. Refs into namespaces the controller does not watch, and kinds it may not
/// watch, are still followed by the periodic resync.
/// </summary>
internal sealed class SinkWatcher(IClusterApi api, IReadOnlyList<string?> namespaces, Action<string> enqueue, JsonLog log, TimeSpan retryInterval, CancellationToken cancellationToken)
{
    private readonly SinkTracker _tracker = new();
    private readonly List<Task> _watches = [];

    /// <summary>Records what the source addresses now (or forgets it: deleted, or a spec that cannot be read).</summary>
    public void Update(string sourceKey, JsonObject? current)
    {
        if (current is null || SourceController.Read(current).Source is not { } source)
        {
            _tracker.Forget(sourceKey);
            return;
        }
        foreach (var type in _tracker.Track(sourceKey, source))
        {
            foreach (var @namespace in namespaces)
            {
                var informer = new ResourceInformer(api, type, @namespace, objectKey =>
                {
                    foreach (var addressing in _tracker.SourcesOf(type, objectKey))
                    {
                        enqueue(addressing);
                    }
                }, log, retryInterval);
                lock (_watches)
                {
                    _watches.Add(Task.Run(() => informer.RunAsync(cancellationToken), CancellationToken.None));
                }
            }
        }
    }

    /// <summary>Completes when every sink informer has stopped (they stop with the leadership's token).</summary>
    public Task Stopped
    {
        get
        {
            lock (_watches)
            {
                return Task.WhenAll(_watches.ToList());
            }
        }
    }
}
