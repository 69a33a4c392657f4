namespace PostgresSource.Core.Database;

/// <summary>
/// The SQL of Durable mode. Everything lives in the source's own schema (named by the object name):
/// <list type="bullet">
/// <item><c>journal</c>: one row per change (payload as the seed's JSON plus "schema" and, for UPDATE, "old"),
/// the writing transaction's id (xid8) and a position from an identity column with CACHE 1, so positions
/// are handed out in time order across sessions (the reader relies on that).</item>
/// <item><c>capture()</c>: the trigger function, SECURITY DEFINER so an application role that may write the
/// table but not the journal still has its write succeed; it only inserts into the journal and wakes
/// listeners with a NOTIFY on the source's channel (payload "durable", folded to one per transaction).</item>
/// </list>
/// One AFTER ROW trigger per table, named by the object name, as in Notify mode.
/// </summary>
internal static class DurableJournalSql
{
    public const string JournalTable = "journal";
    public const string FunctionName = "capture";
    public const string WakePayload = "durable";

    public static string JournalQualified(string name) => Sql.Qualified(name, JournalTable);

    public static string FunctionQualified(string name) => Sql.Qualified(name, FunctionName);

    public static string CreateJournal(string name) => $"""
        CREATE TABLE IF NOT EXISTS {JournalQualified(name)} (
            id bigint GENERATED ALWAYS AS IDENTITY (CACHE 1) PRIMARY KEY,
            txid pg_catalog.xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
            table_schema text NOT NULL,
            table_name text NOT NULL,
            operation text NOT NULL,
            payload json NOT NULL,
            written timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
        ) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000)
        """;

    public static string DropJournal(string name) => $"DROP TABLE IF EXISTS {JournalQualified(name)}";

    /// <summary>The body PostgreSQL keeps verbatim in pg_proc.prosrc: install compares it to detect drift.</summary>
    public static string FunctionBody(string name) => $$"""

        BEGIN
            -- The seed's payload (DELETE carries the old row), plus "schema", and "old" for UPDATE.
            INSERT INTO {{JournalQualified(name)}} (table_schema, table_name, operation, payload)
            VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP,
                    CASE TG_OP
                        WHEN 'INSERT' THEN json_build_object('table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA,
                                                             'action', TG_OP, 'data', row_to_json(NEW))
                        WHEN 'UPDATE' THEN json_build_object('table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA,
                                                             'action', TG_OP, 'data', row_to_json(NEW), 'old', row_to_json(OLD))
                        ELSE json_build_object('table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA,
                                               'action', TG_OP, 'data', row_to_json(OLD))
                    END);
            -- Only a wake-up: the listener reads the journal. Identical payloads fold to one per transaction.
            PERFORM pg_notify({{Sql.Literal(name)}}, {{Sql.Literal(WakePayload)}});
            RETURN NULL;
        END;

        """;

    public static string CreateFunction(string name) =>
        $"CREATE OR REPLACE FUNCTION {FunctionQualified(name)}() RETURNS trigger LANGUAGE plpgsql " +
        $"SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $pgsource${FunctionBody(name)}$pgsource$";

    public static string DropFunction(string name) => $"DROP FUNCTION IF EXISTS {FunctionQualified(name)}()";

    public static string CreateTrigger(string name, string qualifiedTable) =>
        $"CREATE TRIGGER {Sql.Identifier(name)} AFTER INSERT OR UPDATE OR DELETE ON {qualifiedTable} " +
        $"FOR EACH ROW EXECUTE FUNCTION {FunctionQualified(name)}()";

    public static string DropTrigger(string name, string qualifiedTable) =>
        $"DROP TRIGGER IF EXISTS {Sql.Identifier(name)} ON {qualifiedTable}";
}
