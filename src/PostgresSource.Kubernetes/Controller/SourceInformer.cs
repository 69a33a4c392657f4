using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using PostgresSource.Core.Hosting;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes.Controller;

/// <summary>
/// Keeps a copy of the PostgresSources of one namespace (or all) current: a list, then a watch from the list's
/// resource version, watched again from the last version seen when the server ends the stream, listed again when
/// that version has expired (410 Gone). Every change of an object names its key ("namespace/name") to the controller.
/// </summary>
internal sealed class SourceInformer(IClusterApi api, string? @namespace, Action<string> changed, JsonLog log, TimeSpan retryInterval)
{
    private readonly ConcurrentDictionary<string, JsonObject> _cache = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the first list has been read.</summary>
    public Task Synced => _synced.Task;

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
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                version ??= await ListAsync(cancellationToken).ConfigureAwait(false);
                await foreach (var change in api.WatchAsync(ResourceType.PostgresSource, @namespace, version, cancellationToken).ConfigureAwait(false))
                {
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
                log.Info(ex.Message, ("namespace", where));
                version = null;
            }
            catch (ClusterException ex)
            {
                log.Warn("Watching PostgresSources failed; retrying.", ("namespace", where), ("error", ex.Message));
                await DelayAsync(retryInterval, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Replaces the cache with a fresh list; every key that changed or vanished is named. Returns the list's version.</summary>
    private async Task<string> ListAsync(CancellationToken cancellationToken)
    {
        var list = await api.ListWithVersionAsync(ResourceType.PostgresSource, @namespace, null, cancellationToken).ConfigureAwait(false);
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
