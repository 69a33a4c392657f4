namespace PostgresSource.PowerShell;

/// <summary>
/// One source's capture on one table, as found in a database: its function and trigger (Notify, Durable),
/// or its publication and replication slot (Logical).
/// </summary>
public sealed class PgSourceTriggerInfo
{
    public string? SourceName { get; init; }
    /// <summary>The database this was found in, password masked; piped on, it binds to -ConnectionString, so Uninstall-PgSourceTrigger acts there.</summary>
    public required PgSourceConnection Connection { get; init; }
    public string? Host => Connection.Host;
    public string? Database => Connection.Database;
    public string? Uid { get; init; }
    public required string ObjectName { get; init; }
    /// <summary>The mode the objects found capture in.</summary>
    public PgSourceMode Mode { get; init; }
    public string? Schema { get; init; }
    public string? Table { get; init; }
    public bool FunctionPresent { get; init; }
    public bool TriggerPresent { get; init; }
    /// <summary>Notify and Durable: the trigger fires. Logical: the table is published and the slot exists.</summary>
    public bool Enabled { get; init; }
    public string[] Operations { get; init; } = [];
    /// <summary>The filter in force on the table, as the database holds it (Logical: what the publication applies); null: everything is sent.</summary>
    public PgSourceTableFilter? Filter { get; init; }
    /// <summary>Notify, Durable or Logical for this module's objects, Seed for the original Go controller's function, Other for an unknown function body, none when absent.</summary>
    public string? Flavor { get; init; }
    public string? FunctionSchema { get; init; }
    /// <summary>Durable: changes in the journal no listener has acknowledged yet (exact up to 1,000,000, then the planner's estimate).</summary>
    public long? JournalBacklog { get; init; }
    /// <summary>Logical: the source's replication slot exists.</summary>
    public bool SlotPresent { get; init; }
    /// <summary>Logical: a listener streams from the slot now.</summary>
    public bool? SlotActive { get; init; }
    /// <summary>Logical: the position listeners acknowledged (pg_replication_slots.confirmed_flush_lsn).</summary>
    public string? ConfirmedFlushLsn { get; init; }
    /// <summary>Logical: bytes of WAL the server keeps for the slot (current WAL position minus its restart_lsn).</summary>
    public long? RetainedWalBytes { get; init; }
}
