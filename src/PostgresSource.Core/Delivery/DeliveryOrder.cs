namespace PostgresSource.Core.Delivery;

/// <summary>In what order events reach the sink. Every order acknowledges the capture strictly in commit order.</summary>
// Public on purpose: a word of the user's vocabulary (CR fields, cmdlet arguments), and test theories take it as a parameter.
public enum DeliveryOrder
{
    /// <summary>Commit order, one delivery in flight (the default).</summary>
    Commit,
    /// <summary>Changes to the same row (by primary key) keep their order; different rows are delivered in parallel.</summary>
    Key,
    /// <summary>No order: up to the listener's MaxConcurrentDeliveries deliveries in flight.</summary>
    Unordered,
}
