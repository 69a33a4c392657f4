using Npgsql;
using PostgresSource.Core.Naming;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture.Logical;

/// <summary>
/// Logical mode as installed: publications named by the name rule with the tables they publish, and the
/// replication slots of the same name in this database (also a slot whose publication is gone, so a
/// left-over slot that holds WAL is seen).
/// </summary>
internal static class LogicalReplicationListing
{
    private const string PublicationQuery = """
        SELECT p.pubname, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, t.schemaname, t.tablename,
               pg_catalog.obj_description(p.oid, 'pg_publication')
        FROM pg_catalog.pg_publication p
        LEFT JOIN pg_catalog.pg_publication_tables t ON t.pubname = p.pubname
        WHERE p.pubname LIKE 'postgressource\_%'
        ORDER BY p.pubname, t.schemaname, t.tablename
        """;

    // WAL the slot holds: from its restart_lsn to where the server writes now (a standby: where it has replayed to).
    private const string SlotQuery = """
        SELECT slot_name, active, confirmed_flush_lsn::text,
               pg_catalog.pg_wal_lsn_diff(
                   CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn() ELSE pg_catalog.pg_current_wal_lsn() END,
                   restart_lsn)::bigint
        FROM pg_catalog.pg_replication_slots
        WHERE slot_name LIKE 'postgressource\_%' AND slot_type = 'logical' AND database = pg_catalog.current_database()
        """;

    public static async Task<IReadOnlyList<InstalledSourceObject>> ListAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var slots = await SlotsAsync(connection, cancellationToken).ConfigureAwait(false);
        var rows = new List<InstalledSourceObject>();
        await using (var command = new NpgsqlCommand(PublicationQuery, connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var name = reader.GetString(0);
                var slot = slots.GetValueOrDefault(name);
                var published = !reader.IsDBNull(5);
                rows.Add(Row(name, slot) with
                {
                    TableSchema = published ? reader.GetString(5) : null,
                    Table = published ? reader.GetString(6) : null,
                    Operations = Operations(reader.GetBoolean(1), reader.GetBoolean(2), reader.GetBoolean(3), reader.GetBoolean(4)),
                    TriggerEnabled = published && slot is not null,
                    Filter = published ? PushedFilter(reader, reader.GetString(5), reader.GetString(6)) : null,
                });
            }
        }
        var withPublication = rows.Select(r => r.ObjectName).ToHashSet();
        rows.AddRange(slots.Where(s => !withPublication.Contains(s.Key)).Select(s => Row(s.Key, s.Value)));
        return rows;
    }

    /// <summary>
    /// What the publication applies to the table: its operations (shared by all its tables), and the column list and
    /// row condition that install recorded on it (see <see cref="LogicalReplicationSql.CommentFilters"/>).
    /// </summary>
    private static TableFilter? PushedFilter(NpgsqlDataReader reader, string schema, string table)
    {
        var operations = (reader.GetBoolean(1) ? TableOperations.Insert : 0) | (reader.GetBoolean(2) ? TableOperations.Update : 0)
            | (reader.GetBoolean(3) ? TableOperations.Delete : 0) | (reader.GetBoolean(4) ? TableOperations.Truncate : 0);
        var filter = new TableFilter { Table = new TableName(schema, table), Operations = operations };
        if (!reader.IsDBNull(7))
        {
            try
            {
                using var recorded = System.Text.Json.JsonDocument.Parse(reader.GetString(7));
                foreach (var entry in recorded.RootElement.EnumerateArray().Where(e => e.GetProperty("table").GetString() == $"{schema}.{table}"))
                {
                    filter = filter with
                    {
                        IncludeColumns = entry.TryGetProperty("columns", out var c) && c.ValueKind == System.Text.Json.JsonValueKind.Array
                            ? [.. c.EnumerateArray().Select(x => x.GetString()!)] : [],
                        Where = entry.TryGetProperty("where", out var w) && w.ValueKind == System.Text.Json.JsonValueKind.String ? w.GetString() : null,
                    };
                }
            }
            catch (System.Text.Json.JsonException)
            {
                // A comment someone else wrote: no recorded filters.
            }
        }
        return filter.IsEmpty ? null : filter;
    }

    private static InstalledSourceObject Row(string objectName, ReplicationSlotState? slot)
    {
        // A name not made by the naming rule leaves both null: the row is listed as another tool\'s.
        _ = SourceObjectNames.TryParseDatabaseName(objectName, out var sourceName, out var uid);
        return new InstalledSourceObject
        {
            ObjectName = objectName,
            SourceName = sourceName,
            Uid = uid,
            Mode = CaptureMode.Logical,
            Flavor = "Logical",
            Slot = slot,
        };
    }

    private static async Task<Dictionary<string, ReplicationSlotState>> SlotsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var slots = new Dictionary<string, ReplicationSlotState>();
        await using var command = new NpgsqlCommand(SlotQuery, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            slots[reader.GetString(0)] = new ReplicationSlotState(
                reader.GetBoolean(1),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetInt64(3));
        }
        return slots;
    }

    private static IReadOnlyList<string> Operations(bool insert, bool update, bool delete, bool truncate)
    {
        var operations = new List<string>(4);
        if (insert) operations.Add("INSERT");
        if (update) operations.Add("UPDATE");
        if (delete) operations.Add("DELETE");
        if (truncate) operations.Add("TRUNCATE");
        return operations;
    }
}
