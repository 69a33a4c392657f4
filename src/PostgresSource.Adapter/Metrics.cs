using System.Globalization;
using System.Text;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Capture.Notify;
using PostgresSource.Core.Listening;
using PostgresSource.Core.Hosting;

namespace PostgresSource.Adapter;

/// <summary>The listener's counters in the Prometheus text exposition format (version 0.0.4).</summary>
internal static class Metrics
{

    public static string Render(string source, string @namespace, string name, ListenerStatistics? statistics, bool ready, Backlog? backlog = null,
        NotifyCapture? notify = null)
    {
        var label = $"source=\"{Escape(source)}\",namespace=\"{Escape(@namespace)}\",name=\"{Escape(name)}\"";
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
        Counter("pgsource_events_skipped_total", "Events nobody took that were acknowledged because skipping was chosen (each logged with its id).", statistics?.Skipped ?? 0);
        Counter("pgsource_table_changes_total", "Changes of a watched table seen while running: columns added, dropped or renamed, the table renamed or dropped (each logged).", statistics?.TableChanges ?? 0);
        Gauge("pgsource_tables_missing", "Tables of the source not where it names them at the last check (renamed, dropped or never found).", statistics?.TablesMissing ?? 0);
        Counter("pgsource_events_undelivered_total", "Events left unacknowledged because the listener stopped first (delivered again later in Durable and Logical).", statistics?.Undelivered ?? 0);

        var state = statistics?.SinkState ?? SinkState.Unknown;
        text.AppendLine("# HELP pgsource_sink_state 1 for the sink's current state: unknown, up, down (retrying, the stream held back) or refusing.");
        text.AppendLine("# TYPE pgsource_sink_state gauge");
        foreach (var each in Enum.GetValues<SinkState>())
        {
            text.Append("pgsource_sink_state{").Append(label).Append(",state=\"").Append(each.ToString().ToLowerInvariant()).Append("\"} ")
                .AppendLine(each == state ? "1" : "0");
        }
        text.AppendLine("# HELP pgsource_sink_responses_total Delivery attempts on the sink by response code (\"network\" when there was no response).");
        text.AppendLine("# TYPE pgsource_sink_responses_total counter");
        foreach (var (code, answers) in statistics?.Responses ?? new Dictionary<string, long>())
        {
            text.Append("pgsource_sink_responses_total{").Append(label).Append(",code=\"").Append(Escape(code)).Append("\"} ")
                .AppendLine(answers.ToString(CultureInfo.InvariantCulture));
        }
        Gauge("pgsource_oldest_unacknowledged_seconds", "Age of the oldest change read and not yet acknowledged (from its commit time where known); 0 when none.",
            statistics?.OldestUnacknowledgedAge?.TotalSeconds ?? 0);
        if (backlog?.JournalRows is { } rows)
        {
            Gauge("pgsource_journal_backlog_rows", "Durable: journal rows not yet acknowledged (exact up to 100,000, then estimated).", rows);
        }
        if (backlog?.RetainedWalBytes is { } retained)
        {
            Gauge("pgsource_slot_retained_wal_bytes", "Logical: WAL the replication slot keeps on the server.", retained);
        }
        if (backlog?.SlotLagBytes is { } lag)
        {
            Gauge("pgsource_slot_lag_bytes", "Logical: WAL written after the slot's confirmed (acknowledged) position.", lag);
        }
        if (notify is not null)
        {
            Counter("pgsource_notify_dropped_total", "Notify: changes dropped because the capture's buffer was full while the sink lagged (each reported; at most once mode).", notify.DroppedChanges);
            Gauge("pgsource_notify_buffered", "Notify: changes read from the server and held in the capture's buffer.", notify.BufferedChanges);
        }
        if ((notify?.NotificationQueueUsage ?? backlog?.NotificationQueueUsage) is { } usage)
        {
            Gauge("pgsource_notification_queue_usage_ratio", "Notify: share of the server's notification queue in use (NOTIFY fails for everyone at 1).", usage);
        }

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
