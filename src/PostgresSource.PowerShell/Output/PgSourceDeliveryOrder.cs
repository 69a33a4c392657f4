namespace PostgresSource.PowerShell;

/// <summary>In what order Start-PgSourceListener delivers events (-Ordering). The capture is always acknowledged in commit order.</summary>
public enum PgSourceDeliveryOrder
{
    /// <summary>Commit order, one delivery in flight (the default).</summary>
    Commit,
    /// <summary>Changes to the same row (by primary key) keep their order; different rows are delivered in parallel.</summary>
    Key,
    /// <summary>No order: up to -MaxInFlight deliveries at once.</summary>
    Unordered,
}
