namespace PostgresSource.PowerShell;

/// <summary>How a source captures changes. See about_PostgresSource.</summary>
public enum PgSourceMode
{
    /// <summary>Trigger + pg_notify, as the seed: at most once.</summary>
    Notify,
    /// <summary>Trigger writes a journal; at least once.</summary>
    Durable,
    /// <summary>Logical replication through a slot; at least once.</summary>
    Logical,
}
