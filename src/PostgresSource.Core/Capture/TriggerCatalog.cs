using Npgsql;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture;

/// <summary>Catalog reads shared by the trigger-based modes: the source's function and the triggers that call it.</summary>
internal static class TriggerCatalog
{
    /// <summary>pg_trigger.tgtype bits: ROW | INSERT | DELETE | UPDATE, and not BEFORE/INSTEAD.</summary>
    public const int RowBit = 1, BeforeBit = 2, InsertBit = 4, DeleteBit = 8, UpdateBit = 16, TruncateBit = 32, InsteadBit = 64;

    /// <summary>
    /// For the listings: a LATERAL join <c>t</c> with one row per table whose triggers call function <c>p</c> (not the
    /// clones on partitions): <c>tgrelid</c>; <c>tgtype</c>, the bits of all of them (so the operations they capture);
    /// <c>enabled</c>, all of them fire; and <c>tgnargs</c>/<c>tgargs</c> of one of them (they share the filter's).
    /// </summary>
    public const string TriggersPerTableJoin = """
        LEFT JOIN LATERAL (
            SELECT tt.tgrelid, pg_catalog.bit_or(tt.tgtype::int) AS tgtype, pg_catalog.bool_and(tt.tgenabled <> 'D') AS enabled,
                   (pg_catalog.array_agg(tt.tgnargs ORDER BY pg_catalog.length(tt.tgname), tt.tgname))[1] AS tgnargs,
                   (pg_catalog.array_agg(tt.tgargs ORDER BY pg_catalog.length(tt.tgname), tt.tgname))[1] AS tgargs
            FROM pg_catalog.pg_trigger tt
            WHERE tt.tgfoid = p.oid AND NOT tt.tgisinternal AND tt.tgparentid = 0
            GROUP BY tt.tgrelid) t ON true
        """;

    /// <summary>A trigger function named by the source; <c>Pinned</c>: its search_path is <see cref="Sql.PinnedSearchPath"/>.</summary>
    public sealed record FunctionInfo(uint Oid, string Schema, string Name, string Source, bool SecurityDefiner = false, bool Pinned = false);

    /// <summary>A trigger of the source; <c>Arguments</c>: what it passes its function (the parent's names on a partitioned table).</summary>
    public sealed record TriggerInfo(uint TableOid, string TableSchema, string TableName, string TriggerName, int Type, uint FunctionOid, char Enabled,
        IReadOnlyList<string>? Arguments = null)
    {
        public string QualifiedTable => Sql.Qualified(TableSchema, TableName);

        /// <summary>The plan line's target: the table, with "(TRUNCATE)" for the statement trigger.</summary>
        public string Describe(string name) => TriggerName == name ? $"{TableSchema}.{TableName}" : $"{TableSchema}.{TableName} ({CaptureTriggers.Role(name, TriggerName)})";
    }

    public static async Task<IReadOnlyList<FunctionInfo>> FindFunctionsAsync(
        NpgsqlConnection connection, string name, CancellationToken cancellationToken)
    {
        const string query = """
            SELECT p.oid, n.nspname, p.proname, p.prosrc, p.prosecdef, @pinned = ANY (COALESCE(p.proconfig, '{}'))
            FROM pg_catalog.pg_proc p
            JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
            WHERE p.proname = @name AND p.pronargs = 0
              AND p.prorettype = 'pg_catalog.trigger'::pg_catalog.regtype
            ORDER BY n.nspname
            """;
        await using var command = new NpgsqlCommand(query, connection);
        command.Parameters.AddWithValue("name", name);
        command.Parameters.AddWithValue("pinned", Sql.PinnedSearchPathSetting);
        var functions = new List<FunctionInfo>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            functions.Add(new FunctionInfo(reader.GetFieldValue<uint>(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetBoolean(4), reader.GetBoolean(5)));
        }
        return functions;
    }

    /// <summary>The source's triggers (the row trigger named <paramref name="name"/> and its TRUNCATE trigger), on any table.</summary>
    public static async Task<IReadOnlyList<TriggerInfo>> FindTriggersAsync(
        NpgsqlConnection connection, string name, CancellationToken cancellationToken)
    {
        const string query = """
            SELECT c.oid, n.nspname, c.relname, t.tgname, t.tgtype, t.tgfoid, t.tgenabled, t.tgnargs, t.tgargs
            FROM pg_catalog.pg_trigger t
            JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            -- Not the clones PostgreSQL keeps on the partitions of a partitioned table (PostgreSQL 13+: tgparentid):
            -- they come and go with the parent's trigger.
            WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND t.tgname = ANY (@names)
            ORDER BY n.nspname, c.relname
            """;
        await using var command = new NpgsqlCommand(query, connection);
        command.Parameters.AddWithValue("names", CaptureTriggers.Names(name).ToArray());
        var triggers = new List<TriggerInfo>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            triggers.Add(new TriggerInfo(
                reader.GetFieldValue<uint>(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.GetInt16(4), reader.GetFieldValue<uint>(5), reader.GetChar(6), Arguments(reader.GetInt16(7), reader.GetFieldValue<byte[]>(8))));
        }
        return triggers;
    }

    /// <summary>pg_trigger.tgargs: each argument followed by a zero byte.</summary>
    public static IReadOnlyList<string> Arguments(short count, byte[] bytes) =>
        count == 0 ? [] : System.Text.Encoding.UTF8.GetString(bytes).Split('\0')[..count];

    public static IReadOnlyList<string> Operations(int tgtype)
    {
        var operations = new List<string>(4);
        if ((tgtype & InsertBit) != 0) operations.Add("INSERT");
        if ((tgtype & UpdateBit) != 0) operations.Add("UPDATE");
        if ((tgtype & DeleteBit) != 0) operations.Add("DELETE");
        if ((tgtype & TruncateBit) != 0) operations.Add("TRUNCATE");
        return operations;
    }
}
