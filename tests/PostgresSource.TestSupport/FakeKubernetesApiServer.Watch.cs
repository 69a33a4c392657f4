using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace PostgresSource.TestSupport;

/// <summary>
/// Watch streams as the API server serves them: every change is logged with its resource version; a GET with
/// watch=true streams newline-delimited events (ADDED, MODIFIED, DELETED) from the resource version asked for
/// (without one, or with "0", the current objects come first as ADDED); a resource version older than the last
/// <see cref="Compact"/> gets an ERROR event with a 410 Expired Status, as an etcd compaction does.
/// </summary>
public sealed partial class FakeKubernetesApiServer
{
    private readonly List<(long Version, string Type, string Key, JsonObject Object)> _log = [];
    private long _compactedBelow;
    private int _watchEpoch;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Watch streams being served now.</summary>
    public int OpenWatches => Volatile.Read(ref _openWatches);

    private int _openWatches;

    /// <summary>Forgets the change log: a watch from an older resource version gets 410 Gone (open watches end).</summary>
    public void Compact()
    {
        lock (_gate)
        {
            _log.Clear();
            _compactedBelow = long.Parse(NextVersion(), CultureInfo.InvariantCulture);
        }
        CloseWatches();
    }

    /// <summary>Ends every open watch stream, as an API server restart or a load balancer timeout does.</summary>
    public void CloseWatches()
    {
        lock (_gate)
        {
            _watchEpoch++;
            Signal();
        }
    }

    private static bool IsWatch(RecordedRequest request) =>
        request.Method == "GET" && request.Query.GetValueOrDefault("watch") is "true" or "1";

    private void Record(string type, string key, JsonObject item)
    {
        var version = long.Parse((string?)item["metadata"]!["resourceVersion"] ?? "0", CultureInfo.InvariantCulture);
        _log.Add((version, type, key, (JsonObject)item.DeepClone()));
        Signal();
    }

    private void Signal()
    {
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }

    private async Task ServeWatchAsync(HttpListenerContext context, RecordedRequest request)
    {
        var response = context.Response;
        Route? route;
        lock (_gate)
        {
            route = ParseRoute(request);
        }
        if (route is null || route.Name is not null)
        {
            await WriteAllAsync(response, 404, NotServed(request).Body).ConfigureAwait(false);
            return;
        }
        var prefix = route.Info.Group + "|" + route.Info.Plural + "|" + (route.AllNamespaces ? string.Empty : (route.Namespace ?? string.Empty) + "|");
        var selector = request.Query.GetValueOrDefault("labelSelector");
        var timeout = int.TryParse(request.Query.GetValueOrDefault("timeoutSeconds"), out var seconds) ? TimeSpan.FromSeconds(seconds) : TimeSpan.FromMinutes(5);
        var deadline = DateTimeOffset.UtcNow + timeout;

        response.StatusCode = 200;
        response.ContentType = "application/json";
        response.SendChunked = true;
        Interlocked.Increment(ref _openWatches);
        try
        {
            var lines = new List<string>();
            long from;
            int epoch;
            lock (_gate)
            {
                epoch = _watchEpoch;
                var asked = request.Query.GetValueOrDefault("resourceVersion");
                if (string.IsNullOrEmpty(asked) || asked == "0")
                {
                    from = _resourceVersion;
                    lines.AddRange(_store.Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal) && Matches(p.Value, selector))
                        .Select(p => Line("ADDED", p.Value)));
                }
                else
                {
                    from = long.Parse(asked, CultureInfo.InvariantCulture);
                    if (from < _compactedBelow)
                    {
                        lines.Add(Line("ERROR", Status(410, "Expired", $"too old resource version: {from} ({_compactedBelow})")));
                        epoch = -1;
                    }
                }
            }
            while (true)
            {
                Task changed;
                lock (_gate)
                {
                    foreach (var entry in _log.Where(e => e.Version > from && e.Key.StartsWith(prefix, StringComparison.Ordinal)))
                    {
                        if (Matches(entry.Object, selector))
                        {
                            lines.Add(Line(entry.Type, entry.Object));
                        }
                        from = entry.Version;
                    }
                    changed = _changed.Task;
                    if (_watchEpoch != epoch)
                    {
                        epoch = -1;
                    }
                }
                foreach (var line in lines)
                {
                    var bytes = Encoding.UTF8.GetBytes(line + "\n");
                    await response.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
                }
                await response.OutputStream.FlushAsync().ConfigureAwait(false);
                lines.Clear();
                var remaining = deadline - DateTimeOffset.UtcNow;
                if (epoch == -1 || remaining <= TimeSpan.Zero || _stop.IsCancellationRequested)
                {
                    break;
                }
                await Task.WhenAny(changed, Task.Delay(remaining, _stop.Token)).ConfigureAwait(false);
            }
            response.Close();
        }
        catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or IOException or InvalidOperationException)
        {
            // the client went away, or the server is stopping
        }
        finally
        {
            Interlocked.Decrement(ref _openWatches);
        }
    }

    private static string Line(string type, JsonObject item) =>
        new JsonObject { ["type"] = type, ["object"] = item.DeepClone() }.ToJsonString();

    private static async Task WriteAllAsync(HttpListenerResponse response, int code, JsonObject body)
    {
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString());
        response.StatusCode = code;
        response.ContentType = "application/json";
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
        response.Close();
    }
}
