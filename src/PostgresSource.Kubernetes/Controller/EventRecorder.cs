using System.Globalization;
using System.Text.Json.Nodes;
using PostgresSource.Core.Hosting;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes.Controller;

/// <summary>
/// Writes Kubernetes Events (events.k8s.io/v1) about a PostgresSource, so `kubectl describe` and `kubectl events`
/// show what the controller did and why. Best effort: a refused Event is logged, never fails a reconcile.
/// </summary>
internal sealed class EventRecorder(IClusterApi api, string identity, Func<DateTimeOffset> clock, JsonLog log)
{
    public const string Controller = PgSourceKube.Group + "/" + PgSourceKube.ControllerFieldManager;
    private const int MaxNote = 1024;
    private long _sequence;

    public int Recorded { get; private set; }

    public async Task RecordAsync(JsonObject regarding, bool warning, string reason, string action, string note, CancellationToken cancellationToken)
    {
        var name = JsonTree.GetString(regarding, "metadata", "name") ?? "postgressource";
        var @namespace = JsonTree.GetString(regarding, "metadata", "namespace") ?? "default";
        var now = clock();
        var suffix = now.UtcTicks.ToString("x", CultureInfo.InvariantCulture) + Interlocked.Increment(ref _sequence).ToString(CultureInfo.InvariantCulture);
        var body = new JsonObject
        {
            ["apiVersion"] = ResourceType.Event.ApiVersion,
            ["kind"] = ResourceType.Event.Kind,
            ["metadata"] = new JsonObject { ["name"] = $"{name}.{suffix}", ["namespace"] = @namespace },
            ["eventTime"] = LeaseElector.MicroTime(now),
            ["reportingController"] = Controller,
            ["reportingInstance"] = identity,
            ["action"] = action,
            ["reason"] = reason,
            ["note"] = note.Length <= MaxNote ? note : note[..(MaxNote - 1)] + "…",
            ["type"] = warning ? "Warning" : "Normal",
            ["regarding"] = new JsonObject
            {
                ["apiVersion"] = PgSourceKube.ApiVersion,
                ["kind"] = PgSourceKube.Kind,
                ["name"] = name,
                ["namespace"] = @namespace,
                ["uid"] = JsonTree.GetString(regarding, "metadata", "uid"),
                ["resourceVersion"] = JsonTree.GetString(regarding, "metadata", "resourceVersion"),
            },
        };
        try
        {
            await api.CreateAsync(ResourceType.Event, body, cancellationToken).ConfigureAwait(false);
            Recorded++;
        }
        catch (ClusterException ex)
        {
            log.Warn("Could not write an Event.", ("source", $"{@namespace}/{name}"), ("reason", reason), ("error", ex.Message));
        }
    }
}
