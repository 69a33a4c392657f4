using System.Text.Json.Nodes;
using PostgresSource.Core.Hosting;
using PostgresSource.Core.Sources;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes.Controller;

/// <summary>
/// Asks a source's running adapter how it is (GET /state on its pod's "http" port): connected, mode, sink state,
/// backlog or slot lag, last delivery error. The first running pod that answers speaks for the source.
/// </summary>
internal sealed class AdapterProbe(IClusterApi api, HttpClient http, AdapterRoute route)
{
    public async Task<AdapterObservation> ObserveAsync(SourceDefinition source, CancellationToken cancellationToken)
    {
        var selector = PgSourceKube.SelectorFor(SourceObjects.LabelValue(source.Name)) + $",{PgSourceKube.ComponentLabel}={PgSourceKube.AdapterComponent}";
        var pods = (await api.ListAsync(ResourceType.Pod, source.Namespace, selector, cancellationToken).ConfigureAwait(false))
            .Where(p => JsonTree.GetString(p, "status", "phase") == "Running" && JsonTree.GetString(p, "status", "podIP") is not null && p["metadata"]?["deletionTimestamp"] is null)
            .OrderBy(p => JsonTree.GetString(p, "metadata", "name"), StringComparer.Ordinal)
            .ToList();
        if (pods.Count == 0)
        {
            return AdapterObservation.Missing("No adapter pod of this source is running yet.");
        }
        string? problem = null;
        foreach (var pod in pods)
        {
            var name = JsonTree.GetString(pod, "metadata", "name")!;
            try
            {
                var (status, body) = await GetStateAsync(pod, name, cancellationToken).ConfigureAwait(false);
                if (status is >= 200 and < 300 && AdapterState.Parse(body) is { } state)
                {
                    return AdapterObservation.Reported(state);
                }
                problem = $"The adapter pod {name} answered GET {AdapterState.Path} with {status}; an adapter image older than the controller may not serve it.";
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or ClusterException && !cancellationToken.IsCancellationRequested)
            {
                problem = $"The adapter pod {name} did not answer GET {AdapterState.Path}{(route == AdapterRoute.ApiServerProxy ? " through the API server" : string.Empty)}: {ex.Message}";
            }
        }
        return AdapterObservation.Missing(problem!);
    }

    private async Task<(int Status, string Body)> GetStateAsync(JsonObject pod, string name, CancellationToken cancellationToken)
    {
        var port = HttpPort(pod);
        if (route == AdapterRoute.ApiServerProxy)
        {
            var proxied = await api.GetThroughPodProxyAsync(JsonTree.GetString(pod, "metadata", "namespace")!, name, port, AdapterState.Path, cancellationToken).ConfigureAwait(false);
            return (proxied.StatusCode, proxied.Body);
        }
        var ip = JsonTree.GetString(pod, "status", "podIP")!;
        var host = ip.Contains(':', StringComparison.Ordinal) ? $"[{ip}]" : ip;
        using var response = await http.GetAsync(new Uri($"http://{host}:{port}{AdapterState.Path}"), cancellationToken).ConfigureAwait(false);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
    }

    private static int HttpPort(JsonObject pod) =>
        (int)((JsonTree.Get(pod, "spec", "containers") as JsonArray ?? []).OfType<JsonObject>()
            .SelectMany(c => (c["ports"] as JsonArray ?? []).OfType<JsonObject>())
            .Where(p => JsonTree.GetString(p, "name") == "http")
            .Select(p => JsonTree.GetInt64(p, "containerPort"))
            .FirstOrDefault() ?? PgSourceKube.HttpPort);
}
