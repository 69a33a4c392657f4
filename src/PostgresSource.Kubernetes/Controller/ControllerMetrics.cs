using System.Globalization;
using System.Text;

namespace PostgresSource.Kubernetes.Controller;

/// <summary>The controller's counters and gauges, rendered in the Prometheus text format on /metrics.</summary>
internal sealed class ControllerMetrics
{
    private long _reconciles;
    private long _reconcileErrors;

    public long Reconciles => Interlocked.Read(ref _reconciles);

    public long ReconcileErrors => Interlocked.Read(ref _reconcileErrors);

    public void Reconciled() => Interlocked.Increment(ref _reconciles);

    public void Failed() => Interlocked.Increment(ref _reconcileErrors);

    public string Render(bool leader, int sources, int queueDepth, int relists, int events)
    {
        var text = new StringBuilder();
        Add(text, "pgsource_controller_leader", "gauge", "1 while this replica holds the Lease and reconciles.", leader ? 1 : 0);
        Add(text, "pgsource_controller_sources", "gauge", "PostgresSources this replica watches.", sources);
        Add(text, "pgsource_controller_queue_depth", "gauge", "Sources waiting to be reconciled.", queueDepth);
        Add(text, "pgsource_controller_reconciles_total", "counter", "Reconciles finished.", Reconciles);
        Add(text, "pgsource_controller_reconcile_errors_total", "counter", "Reconciles that failed and were retried with backoff.", ReconcileErrors);
        Add(text, "pgsource_controller_relists_total", "counter", "Full lists of PostgresSources (the first, and one after each expired watch).", relists);
        Add(text, "pgsource_controller_events_total", "counter", "Kubernetes Events written.", events);
        return text.ToString();
    }

    private static void Add(StringBuilder text, string name, string type, string help, long value) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n{name} {value}\n");
}
