using Npgsql;
using PostgresSource.Core.Naming;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture.Durable;

/// <summary>
/// Durable mode as installed: a schema named by the name rule that holds the journal and/or the capture
/// function, the triggers that call that function, and how many changes wait in the journal.
/// </summary>
internal static class DurableJournalListing
{
    /// <summary>Above this many journal rows the backlog is the planner's estimate: counting a huge backlog would make listing slow.</summary>
    public const long ExactCountLimit = 1_000_000;

    private const string Query = $"""
        SELECT n.nspname, p.oid IS NOT NULL, p.prosrc,
               j.oid, j.oid IS NOT NULL AND pg_catalog.has_table_privilege(j.oid, 'SELECT'),
               c.relname, cn.nspname,
               t.tgtype, t.enabled, t.tgnargs, t.tgargs
        FROM pg_catalog.pg_namespace n
        LEFT JOIN pg_catalog.pg_proc p ON p.pronamespace = n.oid AND p.proname = @function AND p.pronargs = 0
             AND p.prorettype = 'pg_catalog.trigger'::pg_catalog.regtype
        LEFT JOIN pg_catalog.pg_class j ON j.relnamespace = n.oid AND j.relname = @journal AND j.relkind IN ('r', 'p')
        {TriggerCatalog.TriggersPerTableJoin}
        LEFT JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
        LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
        WHERE n.nspname LIKE 'postgressource\_%' AND (p.oid IS NOT NULL OR j.oid IS NOT NULL)
        ORDER BY n.nspname, cn.nspname, c.relname
        """;

    public static async Task<IReadOnlyList<InstalledSourceObject>> ListAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var rows = new List<InstalledSourceObject>();
        // The journal of each source, when it can be read: counted once the listing's reader is closed.
        var journals = new Dictionary<string, uint>();
        await using (var command = new NpgsqlCommand(Query, connection))
        {
            command.Parameters.AddWithValue("function", DurableJournalSql.FunctionName);
            command.Parameters.AddWithValue("journal", DurableJournalSql.JournalTable);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var objectName = reader.GetString(0);
                // A name not made by the naming rule leaves both null: the row is listed as another tool\'s.
                _ = SourceObjectNames.TryParseDatabaseName(objectName, out var sourceName, out var uid);
                var functionPresent = reader.GetBoolean(1);
                if (reader.GetBoolean(4))
                {
                    journals[objectName] = reader.GetFieldValue<uint>(3);
                }
                var hasTrigger = !reader.IsDBNull(5);
                rows.Add(new InstalledSourceObject
                {
                    ObjectName = objectName,
                    SourceName = sourceName,
                    Uid = uid,
                    Mode = CaptureMode.Durable,
                    FunctionSchema = objectName,
                    FunctionPresent = functionPresent,
                    Flavor = !functionPresent ? "none" : reader.GetString(2) == DurableJournalSql.FunctionBody(objectName) ? "Durable" : "Other",
                    Table = hasTrigger ? reader.GetString(5) : null,
                    TableSchema = hasTrigger ? reader.GetString(6) : null,
                    TriggerPresent = hasTrigger,
                    Operations = hasTrigger ? TriggerCatalog.Operations(reader.GetInt32(7)) : [],
                    TriggerEnabled = hasTrigger && reader.GetBoolean(8),
                    Filter = hasTrigger ? CaptureTriggers.FilterOf(new TableName(reader.GetString(6), reader.GetString(5)), reader.GetInt32(7),
                        TriggerCatalog.Arguments(reader.GetInt16(9), reader.GetFieldValue<byte[]>(10))) : null,
                });
            }
        }

        var backlogs = new Dictionary<string, long>();
        foreach (var (objectName, oid) in journals)
        {
            backlogs[objectName] = await BacklogAsync(connection, objectName, oid, cancellationToken).ConfigureAwait(false);
        }
        return rows.Select(r => backlogs.TryGetValue(r.ObjectName, out var backlog) ? r with { JournalBacklog = backlog } : r).ToList();
    }

    /// <summary>Rows in the journal: counted up to the limit (a LIMIT keeps it quick), beyond it the planner's estimate.</summary>
    private static async Task<long> BacklogAsync(NpgsqlConnection connection, string objectName, uint journalOid, CancellationToken cancellationToken)
    {
        var sql = $"""
            SELECT CASE WHEN counted < @limit THEN counted
                        ELSE greatest(counted, (SELECT reltuples::bigint FROM pg_catalog.pg_class WHERE oid = @journal)) END
            FROM (SELECT count(*) AS counted FROM (SELECT 1 FROM {DurableJournalSql.JournalQualified(objectName)} LIMIT @limit) pending) total
            """;
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("limit", ExactCountLimit);
        command.Parameters.AddWithValue("journal", NpgsqlTypes.NpgsqlDbType.Oid, journalOid);
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }
}
