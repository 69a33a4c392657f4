using PostgresSource.Core.Delivery;

namespace PostgresSource.Core.Listening;

internal sealed record ListenerOptions
{
    /// <summary>
    /// The most events the listener holds at once (read from the capture, not yet delivered). When it is
    /// reached, the listener stops reading from the capture until the sink catches up, so a slow sink
    /// cannot make memory grow.
    /// </summary>
    public int QueueCapacity { get; init; } = 100;

    /// <summary>
    /// How many deliveries may be in flight at once. 1 (the default) keeps the capture's order at the sink.
    /// More lets events reach the sink out of order (each is still sent at least once); the capture is still
    /// acknowledged strictly in order, so a restart never skips an undelivered change. Adapter: PGSOURCE_MAX_IN_FLIGHT.
    /// </summary>
    public int MaxConcurrentDeliveries { get; init; } = 1;

    /// <summary>
    /// The order events reach the sink in. Null: <see cref="DeliveryOrder.Commit"/> with one delivery in flight,
    /// <see cref="DeliveryOrder.Unordered"/> with more (what <see cref="MaxConcurrentDeliveries"/> alone meant before).
    /// </summary>
    public DeliveryOrder? Ordering { get; init; }

    /// <summary>The primary keys <see cref="DeliveryOrder.Key"/> orders by (required for it; see <see cref="RowKeyIndex.LoadAsync"/>).</summary>
    public RowKeyIndex? RowKeys { get; init; }

    /// <summary>What happens to a change nobody will take (refused for good, retry limit reached, no valid event): stop (default) or skip it with a report.</summary>
    public UndeliverableAction OnUndeliverable { get; init; } = UndeliverableAction.Stop;

    /// <summary>The order in force: <see cref="Ordering"/>, or what <see cref="MaxConcurrentDeliveries"/> implies.</summary>
    public DeliveryOrder EffectiveOrdering => Ordering ?? (MaxConcurrentDeliveries == 1 ? DeliveryOrder.Commit : DeliveryOrder.Unordered);

    /// <summary>Stop after this many changes have been received and finished (null: run until cancelled).</summary>
    public long? MaxEvents { get; init; }

    /// <summary>After cancellation, how long in-flight and queued events may still be delivered before they are reported undelivered.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The CloudEvents source; default namespace/name (the adapter's EVENT_SOURCE).</summary>
    public string? EventSource { get; init; }

    /// <summary>Overrides applied after the source's own ceOverrides (K_CE_OVERRIDES).</summary>
    public IReadOnlyDictionary<string, string>? CeOverrides { get; init; }

    /// <summary>Checks that the source's tables are still there under their names (see <see cref="WatchedTables"/>); null: not checked.</summary>
    public WatchedTables? Tables { get; init; }

    /// <summary>How often <see cref="Tables"/> is checked.</summary>
    public TimeSpan TableCheckInterval { get; init; } = TimeSpan.FromSeconds(30);

    public static ListenerOptions Default { get; } = new();

    public ListenerOptions Validate()
    {
        if (QueueCapacity < 1) throw new ArgumentOutOfRangeException(nameof(QueueCapacity), QueueCapacity, "The queue needs room for at least one event.");
        if (MaxConcurrentDeliveries < 1) throw new ArgumentOutOfRangeException(nameof(MaxConcurrentDeliveries), MaxConcurrentDeliveries, "At least one delivery must be allowed in flight.");
        if (Ordering == DeliveryOrder.Commit && MaxConcurrentDeliveries > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxConcurrentDeliveries), MaxConcurrentDeliveries,
                "Commit order allows one delivery in flight; choose key or unordered delivery for more.");
        }
        if (Ordering is { } order && !Enum.IsDefined(order)) throw new ArgumentOutOfRangeException(nameof(Ordering), Ordering, "Not a delivery order.");
        if (!Enum.IsDefined(OnUndeliverable)) throw new ArgumentOutOfRangeException(nameof(OnUndeliverable), OnUndeliverable, "Not an undeliverable action.");
        if (MaxEvents is < 1) throw new ArgumentOutOfRangeException(nameof(MaxEvents), MaxEvents, "MaxEvents must be at least 1.");
        if (DrainTimeout < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(DrainTimeout), DrainTimeout, "The drain timeout must not be negative.");
        return this;
    }
}
