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

    /// <param name="viaPartitionRoot">
    /// A table is partitioned: publish its partitions' changes as the parent's (PostgreSQL 13+), so events name the
    /// parent and partitions attached later are covered with no change to the publication.
    /// </param>
    public static string CreatePublication(string name, IEnumerable<string> qualifiedTables, bool viaPartitionRoot = false) =>
        $"CREATE PUBLICATION {Sql.Identifier(name)} FOR TABLE {string.Join(", ", qualifiedTables)}" +
        (viaPartitionRoot ? " WITH (publish_via_partition_root = true)" : string.Empty);

    public static string PublishViaPartitionRoot(string name) =>
        $"ALTER PUBLICATION {Sql.Identifier(name)} SET (publish_via_partition_root = true)";

    public static string SetPublicationTables(string name, IEnumerable<string> qualifiedTables) =>
        $"ALTER PUBLICATION {Sql.Identifier(name)} SET TABLE {string.Join(", ", qualifiedTables)}";

    /// <summary>Idempotent form for -Script: create the publication, or set its tables if it exists.</summary>
    public static string EnsurePublication(string name, IEnumerable<string> qualifiedTables)
    {
        var tables = qualifiedTables.ToList();
        return $"""
            DO $pgsource$
            BEGIN
                IF EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = {Sql.Literal(name)}) THEN
                    {SetPublicationTables(name, tables)};
                ELSE
                    {CreatePublication(name, tables)};
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
