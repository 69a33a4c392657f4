using PostgresSource.Core.Sources;

namespace PostgresSource.Kubernetes.Controller;

/// <summary>
/// Which sources address which objects (spec.sink.ref and spec.delivery.deadLetterSink.ref), so that a change of
/// an addressed object (a Broker whose URL moved) reconciles its sources at once instead of at the next resync.
/// Core Services are not tracked: their address follows from their name alone.
/// </summary>
internal sealed class SinkTracker
{
    private readonly object _gate = new();
    private readonly Dictionary<string, HashSet<string>> _sourcesByTarget = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string[]> _targetsBySource = new(StringComparer.Ordinal);
    private readonly HashSet<ResourceType> _types = [];

    /// <summary>Records what a source addresses now; returns the types seen for the first time (to start watching).</summary>
    public IReadOnlyList<ResourceType> Track(string sourceKey, SourceDefinition source)
    {
        var targets = Targets(source).ToList();
        lock (_gate)
        {
            Untrack(sourceKey);
            _targetsBySource[sourceKey] = targets.Select(t => t.Key).ToArray();
            foreach (var (_, key) in targets)
            {
                if (!_sourcesByTarget.TryGetValue(key, out var sources))
                {
                    _sourcesByTarget[key] = sources = new HashSet<string>(StringComparer.Ordinal);
                }
                sources.Add(sourceKey);
            }
            return targets.Select(t => t.Type).Distinct().Where(_types.Add).ToList();
        }
    }

    public void Forget(string sourceKey)
    {
        lock (_gate)
        {
            Untrack(sourceKey);
        }
    }

    /// <summary>The sources addressing the object of <paramref name="type"/> with this informer key ("namespace/name").</summary>
    public IReadOnlyList<string> SourcesOf(ResourceType type, string objectKey)
    {
        lock (_gate)
        {
            return _sourcesByTarget.TryGetValue(TargetKey(type, objectKey), out var sources) ? [.. sources] : [];
        }
    }

    private void Untrack(string sourceKey)
    {
        if (!_targetsBySource.Remove(sourceKey, out var old))
        {
            return;
        }
        foreach (var key in old)
        {
            if (_sourcesByTarget.TryGetValue(key, out var sources) && sources.Remove(sourceKey) && sources.Count == 0)
            {
                _sourcesByTarget.Remove(key);
            }
        }
    }

    private static IEnumerable<(ResourceType Type, string Key)> Targets(SourceDefinition source)
    {
        foreach (var sink in new[] { source.Sink, source.Delivery?.DeadLetterSink })
        {
            if (sink is { IsRef: true, RefApiVersion: { } apiVersion, RefKind: { } kind, RefName: { } name } && apiVersion.Contains('/', StringComparison.Ordinal))
            {
                var type = ResourceType.ForReference(apiVersion, kind);
                yield return (type, TargetKey(type, $"{sink.RefNamespace ?? source.Namespace}/{name}"));
            }
        }
    }

    private static string TargetKey(ResourceType type, string objectKey) => $"{type.Group}/{type.Plural}/{objectKey}";
}
