using System.Globalization;
using System.Text;
using PostgresSource.Core.Listening;

namespace PostgresSource.Adapter;

/// <summary>The listener's counters in the Prometheus text exposition format (version 0.0.4).</summary>
internal static class Metrics
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static string Render(string source, ListenerStatistics? statistics, bool ready)
    {
        var label = $"source=\"{Escape(source)}\"";
        var text = new StringBuilder();
        void Counter(string name, string help, long value)
        {
            text.Append("# HELP ").Append(name).Append(' ').AppendLine(help);
            text.Append("# TYPE ").Append(name).AppendLine(" counter");
            text.Append(name).Append('{').Append(label).Append("} ").AppendLine(value.ToString(CultureInfo.InvariantCulture));
        }
        void Gauge(string name, string help, double value)
        {
            text.Append("# HELP ").Append(name).Append(' ').AppendLine(help);
            text.Append("# TYPE ").Append(name).AppendLine(" gauge");
            text.Append(name).Append('{').Append(label).Append("} ").AppendLine(Number(value));
        }

        Counter("pgsource_events_received_total", "Changes read from the database.", statistics?.Received ?? 0);
        Counter("pgsource_events_delivered_total", "Events the sink acknowledged.", statistics?.Delivered ?? 0);
        Counter("pgsource_events_retried_total", "Delivery attempts after the first (retries).", statistics?.Retried ?? 0);
        Counter("pgsource_events_failed_total", "Events neither the sink nor a dead-letter sink took (each logged with its id).", statistics?.Failed ?? 0);
        Counter("pgsource_events_dead_lettered_total", "Events the sink did not take and the dead-letter sink did.", statistics?.DeadLettered ?? 0);
        Gauge("pgsource_events_buffered", "Events read and not yet delivered.", statistics?.Buffered ?? 0);
        Gauge("pgsource_ready", "1 when connected to the database and listening.", ready ? 1 : 0);

        const string histogram = "pgsource_delivery_latency_seconds";
        text.Append("# HELP ").Append(histogram).AppendLine(" From change received to the sink's acknowledgement, queueing and retries included.");
        text.Append("# TYPE ").Append(histogram).AppendLine(" histogram");
        var (buckets, count, sum) = statistics?.DeliveryLatency.Snapshot() ?? (new LatencyHistogram().Snapshot());
        foreach (var (bound, bucketCount) in buckets)
        {
            text.Append(histogram).Append("_bucket{").Append(label).Append(",le=\"").Append(Number(bound)).Append("\"} ")
                .AppendLine(bucketCount.ToString(CultureInfo.InvariantCulture));
        }
        text.Append(histogram).Append("_bucket{").Append(label).Append(",le=\"+Inf\"} ").AppendLine(count.ToString(CultureInfo.InvariantCulture));
        text.Append(histogram).Append("_sum{").Append(label).Append("} ").AppendLine(Number(sum));
        text.Append(histogram).Append("_count{").Append(label).Append("} ").AppendLine(count.ToString(CultureInfo.InvariantCulture));
        return text.ToString();
    }

    private static string Number(double value) => value.ToString("0.######", CultureInfo.InvariantCulture);

    private static string Escape(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
}
