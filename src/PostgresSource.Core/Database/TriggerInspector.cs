using Npgsql;
using PostgresSource.Core.Naming;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Database;

/// <summary>
/// Reads what sources are installed in a database, including objects the original Go controller made:
/// they are recognised by the name rule (postgressource_...) on trigger functions.
/// </summary>
public static class TriggerInspector
{
    private const string Query = """
        SELECT p.proname, pn.nspname, p.prosrc,
               c.relname, cn.nspname, t.tgtype, t.tgenabled
        FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace
        LEFT JOIN pg_catalog.pg_trigger t ON t.tgfoid = p.oid AND NOT t.tgisinternal
        LEFT JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
        LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace
        WHERE p.proname LIKE 'postgressource\_%'
          AND p.pronargs = 0
          AND p.prorettype = 'pg_catalog.trigger'::pg_catalog.regtype
        ORDER BY p.proname, cn.nspname, c.relname
        """;

    public static async Task<IReadOnlyList<InstalledSourceObject>> ListAsync(
        ConnectionSettings connection, CancellationToken cancellationToken = default)
    {
        await using var npgsql = new NpgsqlConnection(connection.ToNpgsqlConnectionString());
        await npgsql.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(Query, npgsql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var rows = new List<InstalledSourceObject>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var objectName = reader.GetString(0);
            SourceObjectNames.TryParseDatabaseName(objectName, out var sourceName, out var uid);
            var hasTrigger = !reader.IsDBNull(3);
            var type = hasTrigger ? reader.GetInt16(5) : 0;
            rows.Add(new InstalledSourceObject
            {
                ObjectName = objectName,
                SourceName = sourceName,
                Uid = uid,
                FunctionSchema = reader.GetString(1),
                FunctionPresent = true,
                Flavor = FlavorOf(objectName, reader.GetString(2)),
                Table = hasTrigger ? reader.GetString(3) : null,
                TableSchema = hasTrigger ? reader.GetString(4) : null,
                TriggerPresent = hasTrigger,
                Operations = hasTrigger ? TriggerCatalog.Operations(type) : [],
                TriggerEnabled = hasTrigger && reader.GetChar(6) != 'D',
            });
        }
        return rows;
    }

    /// <summary>
    /// The state of one source: a row per table it names (trigger present or not), plus rows for
    /// triggers it has on tables it no longer names.
    /// </summary>
    public static async Task<IReadOnlyList<InstalledSourceObject>> ForSourceAsync(
        SourceDefinition source, ConnectionSettings connection, CancellationToken cancellationToken = default)
    {
        var all = await ListAsync(connection, cancellationToken).ConfigureAwait(false);
        var mine = all.Where(r => r.ObjectName == source.DatabaseObjectName).ToList();
        var function = mine.FirstOrDefault();

        await using var npgsql = new NpgsqlConnection(connection.ToNpgsqlConnectionString());
        await npgsql.OpenAsync(cancellationToken).ConfigureAwait(false);
        var rows = new List<InstalledSourceObject>();
        foreach (var table in source.Tables)
        {
            var resolved = await TableResolver.ResolveAsync(npgsql, table, cancellationToken).ConfigureAwait(false);
            var row = resolved is null ? null : mine.FirstOrDefault(r => r.TableSchema == resolved.Schema && r.Table == resolved.Name);
            rows.Add(row ?? new InstalledSourceObject
            {
                ObjectName = source.DatabaseObjectName,
                SourceName = source.Name,
                Uid = source.Uid,
                FunctionSchema = function?.FunctionSchema,
                FunctionPresent = function is not null,
                Flavor = function?.Flavor ?? "none",
                TableSchema = resolved?.Schema ?? table.Schema,
                Table = resolved?.Name ?? table.Name,
            });
        }
        rows.AddRange(mine.Where(r => r.TriggerPresent && !rows.Contains(r)));
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
