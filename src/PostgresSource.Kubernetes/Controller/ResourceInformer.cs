using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using PostgresSource.Core.Hosting;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes.Controller;

/// <summary>
/// Keeps a copy of the objects of one type in one namespace (or all) current: a list, then a watch from the list's
/// resource version, watched again from the last version seen when the server ends the stream, listed again when
/// that version has expired (410 Gone). Every change of an object names its key ("namespace/name"). Failures are
/// retried with a doubling delay (a 403 for a sink type the controller may not watch must not flood the log).
/// </summary>
internal sealed class ResourceInformer(IClusterApi api, ResourceType type, string? @namespace, Action<string> changed, JsonLog log, TimeSpan retryInterval)
{
    private static readonly TimeSpan MaxRetryInterval = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<string, JsonObject> _cache = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the first list has been read.</summary>
    public Task Synced => _synced.Task;

    public ResourceType Type => type;

    /// <summary>Lists done (the first, and one after each expiry): a measure of how often the watch was lost.</summary>
    public int Lists { get; private set; }

    public IEnumerable<string> Keys => _cache.Keys;

    public JsonObject? Get(string key) => _cache.TryGetValue(key, out var item) ? item : null;

    public static string KeyOf(JsonObject item) =>
        $"{JsonTree.GetString(item, "metadata", "namespace")}/{JsonTree.GetString(item, "metadata", "name")}";

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        string? version = null;
        var where = @namespace ?? "every namespace";
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (version is null)
                {
                    version = await ListAsync(cancellationToken).ConfigureAwait(false);
                    failures = 0;
                }
                await foreach (var change in api.WatchAsync(type, @namespace, version, cancellationToken).ConfigureAwait(false))
                {
                    failures = 0;
                    version = change.ResourceVersion ?? version;
                    if (change.Type == "BOOKMARK")
                    {
                        continue;
                    }
                    var key = KeyOf(change.Object);
                    if (change.Type == "DELETED")
                    {
                        _cache.TryRemove(key, out _);
                    }
                    else
                    {
                        _cache[key] = change.Object;
                    }
                    changed(key);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (WatchExpiredException ex)
            {
                log.Info(ex.Message, ("resource", type.Resource), ("namespace", where));
                version = null;
            }
            catch (ClusterException ex)
            {
                var delay = TimeSpan.FromTicks(Math.Min(MaxRetryInterval.Ticks, retryInterval.Ticks << Math.Min(failures++, 16)));
                log.Warn($"Watching {type.Resource} failed; retrying in {delay.TotalSeconds:0.#} s.", ("namespace", where), ("error", ex.Message));
                await DelayAsync(delay, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Replaces the cache with a fresh list; every key that changed or vanished is named. Returns the list's version.</summary>
    private async Task<string> ListAsync(CancellationToken cancellationToken)
    {
        var list = await api.ListWithVersionAsync(type, @namespace, null, cancellationToken).ConfigureAwait(false);
        Lists++;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in list.Items)
        {
            var key = KeyOf(item);
            seen.Add(key);
            var old = Get(key);
            _cache[key] = item;
            if (old is null || JsonTree.GetString(old, "metadata", "resourceVersion") != JsonTree.GetString(item, "metadata", "resourceVersion"))
            {
                changed(key);
            }
        }
        foreach (var gone in _cache.Keys.Where(k => !seen.Contains(k)).ToList())
        {
            _cache.TryRemove(gone, out _);
            changed(gone);
        }
        _synced.TrySetResult();
        return list.ResourceVersion;
    }

    private static async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }
}
