using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture.Notify;

/// <summary>
/// The SQL of Notify mode: the seed's function and trigger, with additions that keep the seed's payload
/// meaning: a "schema" field; on UPDATE the row before it as "old" while both rows fit (else "oldOmitted": true);
/// and a fallback for rows too big for NOTIFY (8000 bytes), which would otherwise make the user's own INSERT or
/// UPDATE fail. The fallback sends the primary-key columns with "truncated": true; if even those are too big, it
/// sends no data at all.
/// </summary>
internal static class NotifyTriggerSql
{
    /// <summary>NOTIFY rejects payloads of 8000 bytes or more.</summary>
    public const int MaxPayloadBytes = 7999;

    /// <summary>
    /// The function body; PostgreSQL keeps it verbatim in pg_proc.prosrc, which is how install detects drift.
    /// It runs with the writer's rights (as the seed's did) on a pinned search_path, and names every function and
    /// operator with its schema, so nothing another role defines can stand in for them.
    /// </summary>
    public static string FunctionBody(string channel) => $$"""

        DECLARE
            action pg_catalog.text = {{CaptureTriggers.EventAction}};
            data pg_catalog.json;
            previous pg_catalog.json;
            notification pg_catalog.text;
            event_schema pg_catalog.text;
            event_table pg_catalog.text;
        BEGIN
            {{CaptureTriggers.SetEventNames("event_schema", "event_table")}}
            -- DELETE sends the old row; INSERT and UPDATE the new one (the seed's payload); TRUNCATE no row. The action
            -- is the operation, or what a table's row condition makes of an UPDATE (INSERT entering it, DELETE leaving it).
            IF action OPERATOR(pg_catalog.=) 'DELETE' THEN
                data = pg_catalog.row_to_json(OLD);
            ELSIF action OPERATOR(pg_catalog.<>) 'TRUNCATE' THEN
                data = pg_catalog.row_to_json(NEW);
            END IF;
            IF action OPERATOR(pg_catalog.=) 'UPDATE' THEN
                previous = pg_catalog.row_to_json(OLD);
            END IF;
            IF {{CaptureTriggers.HasColumnFilter}} AND data IS NOT NULL THEN
                data = {{CaptureTriggers.FilterColumns("data")}};
                IF previous IS NOT NULL THEN
                    previous = {{CaptureTriggers.FilterColumns("previous")}};
                END IF;
            END IF;

            IF action OPERATOR(pg_catalog.=) 'UPDATE' THEN
                -- The row before the update too, while both fit one notification; else the new row alone, marked.
                notification = pg_catalog.json_build_object(
                    'table', event_table,
                    'schema', event_schema,
                    'action', action,
                    'data', data,
                    'old', previous)::pg_catalog.text;
                IF pg_catalog.octet_length(notification) OPERATOR(pg_catalog.>) {{MaxPayloadBytes}} THEN
                    notification = pg_catalog.json_build_object(
                        'table', event_table,
                        'schema', event_schema,
                        'action', action,
                        'data', data,
                        'oldOmitted', true)::pg_catalog.text;
                END IF;
            ELSE
                notification = pg_catalog.json_build_object(
                    'table', event_table,
                    'schema', event_schema,
                    'action', action,
                    'data', data)::pg_catalog.text;
            END IF;

            -- NOTIFY fails at {{MaxPayloadBytes + 1}} bytes, inside the user's transaction: send the key instead.
            IF pg_catalog.octet_length(notification) OPERATOR(pg_catalog.>) {{MaxPayloadBytes}} THEN
                notification = pg_catalog.json_build_object(
                    'table', event_table,
                    'schema', event_schema,
                    'action', action,
                    'truncated', true,
                    'data', (SELECT pg_catalog.json_object_agg(d.key, d.value)
                             FROM pg_catalog.json_each(data) AS d
                             WHERE d.key OPERATOR(pg_catalog.=) ANY (
                                   SELECT a.attname::pg_catalog.text
                                   FROM pg_catalog.pg_index i
                                   JOIN pg_catalog.pg_attribute a
                                     ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid
                                    AND a.attnum OPERATOR(pg_catalog.=) ANY (i.indkey)
                                   WHERE i.indrelid OPERATOR(pg_catalog.=) TG_RELID AND i.indisprimary)))::pg_catalog.text;
                IF pg_catalog.octet_length(notification) OPERATOR(pg_catalog.>) {{MaxPayloadBytes}} THEN
                    notification = pg_catalog.json_build_object(
                        'table', event_table,
                        'schema', event_schema,
                        'action', action,
                        'truncated', true,
                        'data', NULL)::pg_catalog.text;
                END IF;
            END IF;

            PERFORM pg_catalog.pg_notify({{Sql.Literal(channel)}}, notification);

            -- The result of an AFTER trigger is ignored.
            RETURN NULL;
        END;

        """;

    public static string CreateFunction(string schema, string name) =>
        $"CREATE OR REPLACE FUNCTION {Sql.Qualified(schema, name)}() RETURNS trigger LANGUAGE plpgsql " +
        $"SECURITY INVOKER SET search_path = {Sql.PinnedSearchPath} AS $pgsource${FunctionBody(name)}$pgsource$";

    public static string DropFunction(string schema, string name) =>
        $"DROP FUNCTION IF EXISTS {Sql.Qualified(schema, name)}()";
}
