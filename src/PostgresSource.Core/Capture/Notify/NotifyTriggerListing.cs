using Npgsql;
using PostgresSource.Core.Naming;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture.Notify;

/// <summary>
/// Notify mode as installed: trigger functions named by the name rule (postgressource_...) and the triggers
/// that call them, including the original Go controller's (Flavor Seed).
/// </summary>
internal static class NotifyTriggerListing
{
    private const string Query = $"""
        SELECT p.proname, pn.nspname, p.prosrc,
               c.relname, cn.nspname,
               t.tgtype, t.enabled, t.tgnargs, t.tgargs
        FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
        {TriggerCatalog.TriggersPerTableJoin}
        LEFT JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
        LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
        WHERE p.proname LIKE 'postgressource\_%'
          AND p.pronargs = 0
          AND p.prorettype = 'pg_catalog.trigger'::pg_catalog.regtype
        ORDER BY p.proname, cn.nspname, c.relname
        """;

    public static async Task<IReadOnlyList<InstalledSourceObject>> ListAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(Query, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var rows = new List<InstalledSourceObject>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var objectName = reader.GetString(0);
            // A name not made by the naming rule leaves both null: the row is listed as another tool\'s.
            _ = SourceObjectNames.TryParseDatabaseName(objectName, out var sourceName, out var uid);
            var hasTrigger = !reader.IsDBNull(3);
            var type = hasTrigger ? reader.GetInt32(5) : 0;
            rows.Add(new InstalledSourceObject
            {
                ObjectName = objectName,
                SourceName = sourceName,
                Uid = uid,
                Mode = CaptureMode.Notify,
                FunctionSchema = reader.GetString(1),
                FunctionPresent = true,
                Flavor = FlavorOf(objectName, reader.GetString(2)),
                Table = hasTrigger ? reader.GetString(3) : null,
                TableSchema = hasTrigger ? reader.GetString(4) : null,
                TriggerPresent = hasTrigger,
                Operations = hasTrigger ? TriggerCatalog.Operations(type) : [],
                TriggerEnabled = hasTrigger && reader.GetBoolean(6),
                Filter = hasTrigger ? CaptureTriggers.FilterOf(new TableName(reader.GetString(4), reader.GetString(3)), type,
                    TriggerCatalog.Arguments(reader.GetInt16(7), reader.GetFieldValue<byte[]>(8))) : null,
            });
        }
        return rows;
    }

    private static string FlavorOf(string objectName, string body)
    {
        if (body == NotifyTriggerSql.FunctionBody(objectName))
        {
            return "Notify";
        }
        // The Go controller's body: row_to_json + json_build_object('table', ..., 'action', ..., 'data', ...).
        return body.Contains("row_to_json", StringComparison.Ordinal) && body.Contains("pg_notify", StringComparison.Ordinal)
            ? "Seed"
            : "Other";
    }
}
