namespace PostgresSource.Core.Database;

/// <summary>Choices for installing a source's database objects.</summary>
internal sealed record InstallOptions
{
    /// <summary>The schema that holds the source's function (the seed used the search_path's first, normally public).</summary>
    public string FunctionSchema { get; init; } = "public";

    /// <summary>How long DDL may wait for a table lock before failing with a clear error.</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Logical mode: set REPLICA IDENTITY FULL on every table, so UPDATE and DELETE events carry the whole
    /// old row ("old", and "data" of a DELETE). It makes the server log whole old rows: more WAL.
    /// Tables with no usable identity at all (no primary key) get FULL anyway, because PostgreSQL would
    /// otherwise reject their UPDATEs and DELETEs once they are in a publication.
    /// </summary>
    public bool ReplicaIdentityFull { get; init; }

    /// <summary>
    /// Durable and Logical: record that the capture must first emit every existing row once, as a Read
    /// change, before streaming (see <see cref="Capture.Snapshots.SnapshotRunner"/>).
    /// </summary>
    public bool Snapshot { get; init; }

    /// <summary>
    /// Trigger modes: whether the triggers also fire in sessions with session_replication_role = replica (logical
    /// replication apply workers, restores run with triggers disabled). true: ENABLE ALWAYS; false: a plain ENABLE
    /// (PostgreSQL's default: such changes are not captured); null: new triggers get the plain ENABLE and existing
    /// ones are left as they are. Setting it needs ownership of each table.
    /// </summary>
    public bool? CaptureReplicaSessions { get; init; }

    /// <summary>
    /// Take over objects with the source's names that another role owns (or that were not made by a source): they
    /// are removed, with everything in them, and installed afresh. Without it install and uninstall refuse them.
    /// </summary>
    public bool TakeOver { get; init; }

    public static InstallOptions Default { get; } = new();
}
