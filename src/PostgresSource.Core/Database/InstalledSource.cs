using PostgresSource.Core.Sources;
using PostgresSource.Core.Capture.Durable;

namespace PostgresSource.Core.Database;

/// <summary>
/// One row of what is installed: a source's capture on one table (or a source-level object without a table),
/// in the mode its objects belong to.
/// </summary>
internal sealed record InstalledSourceObject
{
    public required string ObjectName { get; init; }
    /// <summary>The source name when the object name can be read back (not hashed); otherwise null.</summary>
    public string? SourceName { get; init; }
    public string? Uid { get; init; }
    /// <summary>The mode these objects capture in: Notify (function + triggers), Durable (journal + triggers) or Logical (publication + slot).</summary>
    public CaptureMode Mode { get; init; } = CaptureMode.Notify;
    /// <summary>Notify: the function's schema. Durable: the source's own schema, which holds the function and the journal.</summary>
    public string? FunctionSchema { get; init; }
    public bool FunctionPresent { get; init; }
    public string? TableSchema { get; init; }
    public string? Table { get; init; }
    public bool TriggerPresent { get; init; }
    /// <summary>What is captured: the trigger's events, or (Logical) what the publication publishes.</summary>
    public IReadOnlyList<string> Operations { get; init; } = [];
    /// <summary>Notify and Durable: the trigger fires (present and not disabled). Logical: the table is published and the slot exists.</summary>
    public bool TriggerEnabled { get; init; }

    /// <summary>The filter in force on the table (read back from the database), or null when it sends everything.</summary>
    public Sources.TableFilter? Filter { get; init; }
    /// <summary>
    /// Whose objects these are: Notify, Durable or Logical when they are this product's as it makes them, Seed for
    /// the Go controller's function, Other for a function with a body this product does not know, none when absent.
    /// </summary>
    public string Flavor { get; init; } = "unknown";
    /// <summary>
    /// Durable: changes in the journal that no listener has acknowledged yet; exact up to
    /// <see cref="DurableJournalListing.ExactCountLimit"/>, the planner's estimate above. Null when there is no journal or it cannot be read.
    /// </summary>
    public long? JournalBacklog { get; init; }
    /// <summary>Logical: the source's replication slot; null when it is missing (or the mode is another).</summary>
    public ReplicationSlotState? Slot { get; init; }
}

/// <summary>A logical replication slot as pg_replication_slots shows it.</summary>
/// <param name="Active">A walsender (a running listener) streams from it now.</param>
/// <param name="ConfirmedFlushLsn">The position the consumer acknowledged; the server may recycle WAL before it.</param>
/// <param name="RetainedWalBytes">WAL the server keeps for the slot: from its restart_lsn to the current WAL position.</param>
internal sealed record ReplicationSlotState(bool Active, string? ConfirmedFlushLsn, long? RetainedWalBytes);
