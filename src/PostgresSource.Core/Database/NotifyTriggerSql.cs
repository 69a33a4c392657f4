namespace PostgresSource.Core.Database;

/// <summary>
/// The SQL of Notify mode: the seed's function and trigger, with two additions that keep the seed's
/// payload meaning: a "schema" field, and a fallback for rows too big for NOTIFY (8000 bytes), which
/// would otherwise make the user's own INSERT or UPDATE fail. The fallback sends the primary-key
/// columns with "truncated": true; if even those are too big, it sends no data at all.
/// </summary>
internal static class NotifyTriggerSql
{
    /// <summary>NOTIFY rejects payloads of 8000 bytes or more.</summary>
    public const int MaxPayloadBytes = 7999;

    /// <summary>The function body; PostgreSQL keeps it verbatim in pg_proc.prosrc, which is how install detects drift.</summary>
    public static string FunctionBody(string channel) => $$"""

        DECLARE
            data json;
            notification text;
        BEGIN
            -- DELETE sends the old row; INSERT and UPDATE the new one (the seed's payload).
            IF (TG_OP = 'DELETE') THEN
                data = row_to_json(OLD);
            ELSE
                data = row_to_json(NEW);
            END IF;

            notification = json_build_object(
                'table', TG_TABLE_NAME,
                'schema', TG_TABLE_SCHEMA,
                'action', TG_OP,
                'data', data)::text;

            -- NOTIFY fails at {{MaxPayloadBytes + 1}} bytes, inside the user's transaction: send the key instead.
            IF octet_length(notification) > {{MaxPayloadBytes}} THEN
                notification = json_build_object(
                    'table', TG_TABLE_NAME,
                    'schema', TG_TABLE_SCHEMA,
                    'action', TG_OP,
                    'truncated', true,
                    'data', (SELECT json_object_agg(d.key, d.value)
                             FROM json_each(data) AS d
                             WHERE d.key IN (SELECT a.attname
                                             FROM pg_catalog.pg_index i
                                             JOIN pg_catalog.pg_attribute a
                                               ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                                             WHERE i.indrelid = TG_RELID AND i.indisprimary)))::text;
                IF octet_length(notification) > {{MaxPayloadBytes}} THEN
                    notification = json_build_object(
                        'table', TG_TABLE_NAME,
                        'schema', TG_TABLE_SCHEMA,
                        'action', TG_OP,
                        'truncated', true,
                        'data', NULL)::text;
                END IF;
            END IF;

            PERFORM pg_notify({{Sql.Literal(channel)}}, notification);

            -- The result of an AFTER trigger is ignored.
            RETURN NULL;
        END;

        """;

    public static string CreateFunction(string schema, string name) =>
        $"CREATE OR REPLACE FUNCTION {Sql.Qualified(schema, name)}() RETURNS trigger LANGUAGE plpgsql AS $pgsource${FunctionBody(name)}$pgsource$";

    public static string CreateTrigger(string name, string functionSchema, ResolvedTable table) =>
        $"CREATE TRIGGER {Sql.Identifier(name)} AFTER INSERT OR UPDATE OR DELETE ON {table.Qualified} " +
        $"FOR EACH ROW EXECUTE FUNCTION {Sql.Qualified(functionSchema, name)}()";

    public static string CreateTriggerUnresolved(string name, string functionSchema, string qualifiedTable) =>
        $"CREATE TRIGGER {Sql.Identifier(name)} AFTER INSERT OR UPDATE OR DELETE ON {qualifiedTable} " +
        $"FOR EACH ROW EXECUTE FUNCTION {Sql.Qualified(functionSchema, name)}()";

    public static string DropTrigger(string name, string qualifiedTable) =>
        $"DROP TRIGGER IF EXISTS {Sql.Identifier(name)} ON {qualifiedTable}";

    public static string DropFunction(string schema, string name) =>
        $"DROP FUNCTION IF EXISTS {Sql.Qualified(schema, name)}()";
}
