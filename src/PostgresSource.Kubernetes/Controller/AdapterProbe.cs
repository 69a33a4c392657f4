using System.Text.Json.Nodes;
using PostgresSource.Core.Hosting;
using PostgresSource.Core.Sources;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes.Controller;

/// <summary>
/// Asks a source's running adapter how it is (GET /state on its pod's "http" port): connected, mode, sink state,
/// backlog or slot lag, last delivery error. The first running pod that answers speaks for the source.
/// </summary>
internal sealed class AdapterProbe(IClusterApi api, HttpClient http)
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
            var name = JsonTree.GetString(pod, "metadata", "name");
            var url = StateUrl(pod);
            try
            {
                using var response = await http.GetAsync(url, cancellationToken).ConfigureAwait(false);
                var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                if (response.IsSuccessStatusCode && AdapterState.Parse(body) is { } state)
                {
                    return AdapterObservation.Reported(state);
                }
                problem = $"The adapter pod {name} answered GET {AdapterState.Path} with {(int)response.StatusCode}; an adapter image older than the controller may not serve it.";
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                problem = $"The adapter pod {name} did not answer GET {AdapterState.Path}: {ex.Message}";
            }
        }
        return AdapterObservation.Missing(problem!);
    }

    private static Uri StateUrl(JsonObject pod)
    {
        var ip = JsonTree.GetString(pod, "status", "podIP")!;
        var port = (JsonTree.Get(pod, "spec", "containers") as JsonArray ?? []).OfType<JsonObject>()
            .SelectMany(c => (c["ports"] as JsonArray ?? []).OfType<JsonObject>())
            .Where(p => JsonTree.GetString(p, "name") == "http")
            .Select(p => JsonTree.GetInt64(p, "containerPort"))
            .FirstOrDefault() ?? PgSourceKube.HttpPort;
        var host = ip.Contains(':', StringComparison.Ordinal) ? $"[{ip}]" : ip;
        return new Uri($"http://{host}:{port}{AdapterState.Path}");
    }
}
