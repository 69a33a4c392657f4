using Npgsql;

namespace PostgresSource.Core.Database;

/// <summary>Catalog reads shared by the trigger-based modes: the source's function and the triggers that call it.</summary>
internal static class TriggerCatalog
{
    /// <summary>pg_trigger.tgtype bits: ROW | INSERT | DELETE | UPDATE, and not BEFORE/INSTEAD.</summary>
    public const int RowBit = 1, BeforeBit = 2, InsertBit = 4, DeleteBit = 8, UpdateBit = 16, TruncateBit = 32, InsteadBit = 64;
    public const int AfterRowAllChanges = RowBit | InsertBit | DeleteBit | UpdateBit;

    public sealed record FunctionInfo(uint Oid, string Schema, string Name, string Source);

    public sealed record TriggerInfo(uint TableOid, string TableSchema, string TableName, string TriggerName, int Type, uint FunctionOid, char Enabled)
    {
        public string QualifiedTable => Sql.Qualified(TableSchema, TableName);
    }

    public static async Task<IReadOnlyList<FunctionInfo>> FindFunctionsAsync(
        NpgsqlConnection connection, string name, CancellationToken cancellationToken)
    {
        const string query = """
            SELECT p.oid, n.nspname, p.proname, p.prosrc
            FROM pg_catalog.pg_proc p
            JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
            WHERE p.proname = @name AND p.pronargs = 0
              AND p.prorettype = 'pg_catalog.trigger'::pg_catalog.regtype
            ORDER BY n.nspname
            """;
        await using var command = new NpgsqlCommand(query, connection);
        command.Parameters.AddWithValue("name", name);
        var functions = new List<FunctionInfo>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            functions.Add(new FunctionInfo(reader.GetFieldValue<uint>(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
        }
        return functions;
    }

    /// <summary>Triggers with the given name, on any table.</summary>
    public static async Task<IReadOnlyList<TriggerInfo>> FindTriggersAsync(
        NpgsqlConnection connection, string name, CancellationToken cancellationToken)
    {
        const string query = """
            SELECT c.oid, n.nspname, c.relname, t.tgname, t.tgtype, t.tgfoid, t.tgenabled
            FROM pg_catalog.pg_trigger t
            JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE NOT t.tgisinternal AND t.tgname = @name
            ORDER BY n.nspname, c.relname
            """;
        await using var command = new NpgsqlCommand(query, connection);
        command.Parameters.AddWithValue("name", name);
        var triggers = new List<TriggerInfo>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            triggers.Add(new TriggerInfo(
                reader.GetFieldValue<uint>(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.GetInt16(4), reader.GetFieldValue<uint>(5), reader.GetChar(6)));
        }
        return triggers;
    }

    public static IReadOnlyList<string> Operations(int tgtype)
    {
        var operations = new List<string>(4);
        if ((tgtype & InsertBit) != 0) operations.Add("INSERT");
        if ((tgtype & UpdateBit) != 0) operations.Add("UPDATE");
        if ((tgtype & DeleteBit) != 0) operations.Add("DELETE");
        if ((tgtype & TruncateBit) != 0) operations.Add("TRUNCATE");
        return operations;
    }

    public static bool IsAfterRowAllChanges(int tgtype) =>
        (tgtype & (AfterRowAllChanges | BeforeBit | InsteadBit)) == AfterRowAllChanges;
}
