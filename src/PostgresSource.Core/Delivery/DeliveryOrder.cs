namespace PostgresSource.Core.Delivery;

/// <summary>In what order events reach the sink. Every order acknowledges the capture strictly in commit order.</summary>
public enum DeliveryOrder
{
    /// <summary>Commit order, one delivery in flight (the default).</summary>
    Commit,
    /// <summary>Changes to the same row (by primary key) keep their order; different rows are delivered in parallel.</summary>
    Key,
    /// <summary>No order: up to the listener's MaxConcurrentDeliveries deliveries in flight.</summary>
    Unordered,
}
