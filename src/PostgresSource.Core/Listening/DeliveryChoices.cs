using PostgresSource.Core.Delivery;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Listening;

/// <summary>
/// The delivery choices a host was given explicitly (null: not given), merged over a source's own
/// <see cref="SourceDelivery"/> (its spec.delivery), then over the defaults: stop on an undeliverable change,
/// commit order with one delivery in flight (four for key or unordered), no retry limit.
/// </summary>
internal sealed record DeliveryChoices
{
    /// <summary>Deliveries in flight for key and unordered delivery when neither the host nor the source says.</summary>
    public const int ParallelInFlight = 4;

    public UndeliverableAction? OnUndeliverable { get; init; }
    public DeliveryOrder? Ordering { get; init; }
    public int? MaxInFlight { get; init; }
    public int? MaxAttempts { get; init; }
    public TimeSpan? MaxRetryTime { get; init; }

    /// <summary>The order and the deliveries in flight in force, and the listener options and retry policy with them.</summary>
    public (ListenerOptions Options, RetryPolicy Policy) ApplyTo(ListenerOptions options, RetryPolicy policy, SourceDelivery? own)
    {
        // An order given here is taken with this in-flight count only; the source's count goes with the source's order.
        var ordering = Ordering ?? own?.Ordering;
        var inFlight = MaxInFlight ?? (Ordering is null ? own?.MaxInFlight : null)
            ?? (ordering is DeliveryOrder.Key or DeliveryOrder.Unordered ? ParallelInFlight : 1);
        return (
            options with
            {
                Ordering = ordering,
                MaxConcurrentDeliveries = inFlight,
                OnUndeliverable = OnUndeliverable ?? own?.OnUndeliverable ?? UndeliverableAction.Stop,
            },
            policy with
            {
                MaxAttempts = MaxAttempts ?? own?.MaxAttempts,
                MaxRetryTime = MaxRetryTime ?? own?.RetryTime,
            });
    }
}
