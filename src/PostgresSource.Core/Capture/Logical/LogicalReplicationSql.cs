using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture.Logical;

/// <summary>
/// The SQL of Logical mode: a publication and a persistent pgoutput replication slot, both named by the
/// source's object name (at most 63 characters of lowercase letters, digits and '_', which slot names need).
/// </summary>
internal static class LogicalReplicationSql
{
    public const string Plugin = "pgoutput";

    /// <summary>What the server accepts as a slot name (ReplicationSlotValidateName).</summary>
    public static bool IsValidSlotName(string name) =>
        name.Length is > 0 and <= 63 && name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_');

    /// <summary>
    /// One table of the publication as CREATE and ALTER PUBLICATION name it: with a column list and a row filter
    /// (PostgreSQL 15+) when its filter has them pushed down.
    /// </summary>
    public static string PublicationEntry(string qualifiedTable, IReadOnlyList<string>? columns, string? where) =>
        qualifiedTable
        + (columns is { Count: > 0 } ? $" ({string.Join(", ", columns.Select(Sql.Identifier))})" : "")
        + (where is null ? "" : $" WHERE ({where})");

    /// <summary>The publish option for a set of operations: what the publication sends at all.</summary>
    public static string Publish(Sources.TableOperations operations) => string.Join(", ", Sources.TableFilter.OperationNames(operations));

    /// <param name="viaPartitionRoot">
    /// A table is partitioned: publish its partitions' changes as the parent's (PostgreSQL 13+), so events name the
    /// parent and partitions attached later are covered with no change to the publication.
    /// </param>
    /// <param name="publish">The operations any table's filter lets through; all of them when no table has a filter.</param>
    public static string CreatePublication(string name, IEnumerable<string> entries, bool viaPartitionRoot = false,
        Sources.TableOperations publish = Sources.TableOperations.All)
    {
        var with = new List<string>(2);
        if (publish != Sources.TableOperations.All) with.Add($"publish = {Sql.Literal(Publish(publish))}");
        if (viaPartitionRoot) with.Add("publish_via_partition_root = true");
        return $"CREATE PUBLICATION {Sql.Identifier(name)} FOR TABLE {string.Join(", ", entries)}" +
            (with.Count > 0 ? $" WITH ({string.Join(", ", with)})" : string.Empty);
    }

    public static string PublishViaPartitionRoot(string name) =>
        $"ALTER PUBLICATION {Sql.Identifier(name)} SET (publish_via_partition_root = true)";

    public static string SetPublish(string name, Sources.TableOperations publish) =>
        $"ALTER PUBLICATION {Sql.Identifier(name)} SET (publish = {Sql.Literal(Publish(publish))})";

    public static string SetPublicationTables(string name, IEnumerable<string> entries) =>
        $"ALTER PUBLICATION {Sql.Identifier(name)} SET TABLE {string.Join(", ", entries)}";

    /// <summary>
    /// The filters pushed into the publication, recorded on it as its comment: how a later install tells whether they
    /// changed (the catalog keeps a row filter only in PostgreSQL's own rewritten form).
    /// </summary>
    public static string CommentFilters(string name, string? filters) =>
        $"COMMENT ON PUBLICATION {Sql.Identifier(name)} IS {(filters is null ? "NULL" : Sql.Literal(filters))}";

    /// <summary>Idempotent form for -Script: create the publication, or set its tables if it exists.</summary>
    public static string EnsurePublication(string name, IEnumerable<string> entries, Sources.TableOperations publish = Sources.TableOperations.All)
    {
        var tables = entries.ToList();
        return $"""
            DO $pgsource$
            BEGIN
                IF EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = {Sql.Literal(name)}) THEN
                    {SetPublicationTables(name, tables)};
                    {SetPublish(name, publish)};
                ELSE
                    {CreatePublication(name, tables, publish: publish)};
                END IF;
            END
            $pgsource$
            """;
    }

    public static string DropPublication(string name) => $"DROP PUBLICATION IF EXISTS {Sql.Identifier(name)}";

    /// <summary>Creates the slot unless it exists. Runs after the publication's transaction committed.</summary>
    public static string CreateSlot(string name) =>
        $"SELECT pg_catalog.pg_create_logical_replication_slot({Sql.Literal(name)}, {Sql.Literal(Plugin)}) " +
        $"WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = {Sql.Literal(name)})";

    /// <summary>
    /// Drops the slot. A listener still streaming from it holds it active: its walsender is terminated
    /// first (waiting up to 10 seconds for it to let go); without the right to do that, the error says so.
    /// </summary>
    public static string DropSlot(string name) => $"""
        DO $pgsource$
        DECLARE
            holder integer;
        BEGIN
            FOR attempt IN 1..100 LOOP
                SELECT active_pid INTO holder FROM pg_catalog.pg_replication_slots WHERE slot_name = {Sql.Literal(name)};
                IF NOT FOUND THEN
                    RETURN;
                END IF;
                EXIT WHEN holder IS NULL;
                IF attempt = 1 THEN
                    RAISE NOTICE 'terminating the walsender (pid %) that streams from replication slot %', holder, {Sql.Literal(name)};
                END IF;
                PERFORM pg_catalog.pg_terminate_backend(holder);
                PERFORM pg_catalog.pg_sleep(0.1);
            END LOOP;
            PERFORM pg_catalog.pg_drop_replication_slot({Sql.Literal(name)});
        END
        $pgsource$
        """;

    public static string ReplicaIdentityFull(string qualifiedTable) => $"ALTER TABLE {qualifiedTable} REPLICA IDENTITY FULL";
}
