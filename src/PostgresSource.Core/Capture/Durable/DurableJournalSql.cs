using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture.Durable;

/// <summary>
/// The SQL of Durable mode. Everything lives in the source's own schema (named by the object name):
/// <list type="bullet">
/// <item><c>journal</c>: one row per change: the writing transaction's id (xid8), the table, the operation, and the
/// row images as row_to_json made them (<c>data</c>: the new row, or the old one for DELETE; <c>old</c>: the old row
/// of an UPDATE). The reader wraps them in the seed's payload (see <see cref="Capture.Durable.JournalPayload"/>).
/// The position comes from an identity column with CACHE 1, so positions are handed out in time order across
/// sessions (the reader relies on that). <c>payload</c> holds the whole payload of rows written by versions before
/// the row images were split out; new rows leave it null.</item>
/// <item><c>capture()</c>: the trigger function. It runs with the writer's own rights (SECURITY INVOKER), so the
/// row_to_json of a row, and any cast to json that a table owner defined, never runs with the installer's
/// rights. Writers reach the journal through <see cref="JournalAccess"/>: INSERT for everyone, admitted by
/// row-level security only from inside a trigger and only for a table and operation the writer holds the
/// privilege for. Nobody but the owner may read or delete journal rows. No NOTIFY: the reader polls, see
/// <see cref="Capture.Durable.JournalPollPacing"/>.</item>
/// </list>
/// One AFTER ROW trigger and one AFTER TRUNCATE statement trigger per table (see <see cref="CaptureTriggers"/>).
/// The write path is kept lean because every user write pays it: no timestamp column, one INSERT per
/// operation with only that operation's expressions, no JSON envelope built in the trigger.
/// </summary>
internal static class DurableJournalSql
{
    public const string JournalTable = "journal";
    public const string FunctionName = "capture";

    public static string JournalQualified(string name) => Sql.Qualified(name, JournalTable);

    public static string FunctionQualified(string name) => Sql.Qualified(name, FunctionName);

    public static string CreateJournal(string name) => $"""
        CREATE TABLE IF NOT EXISTS {JournalQualified(name)} (
            id bigint GENERATED ALWAYS AS IDENTITY (CACHE 1) PRIMARY KEY,
            txid pg_catalog.xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
            table_schema text NOT NULL,
            table_name text NOT NULL,
            operation text NOT NULL,
            data json,
            old json,
            payload json
        ) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000)
        """;

    /// <summary>
    /// Brings a journal of an earlier version to the current columns, keeping its rows (they keep their whole
    /// payload). Idempotent. <c>payload</c> is kept, only made optional: a writer already inside the earlier
    /// function when this runs still inserts into it once the install commits.
    /// </summary>
    public static string UpgradeJournal(string name) =>
        $"ALTER TABLE {JournalQualified(name)} ADD COLUMN IF NOT EXISTS data json, ADD COLUMN IF NOT EXISTS old json, " +
        "ADD COLUMN IF NOT EXISTS payload json, ALTER COLUMN payload DROP NOT NULL" +
        string.Concat(RetiredColumns.Select(c => $", DROP COLUMN IF EXISTS {Sql.Identifier(c)}"));

    /// <summary>The columns <see cref="CreateJournal"/> makes and <see cref="UpgradeJournal"/> leaves, with their NOT NULL flag.</summary>
    public static readonly IReadOnlyDictionary<string, bool> Columns = new Dictionary<string, bool>
    {
        ["id"] = true, ["txid"] = true, ["table_schema"] = true, ["table_name"] = true, ["operation"] = true,
        ["data"] = false, ["old"] = false, ["payload"] = false,
    };

    /// <summary>Columns of earlier versions that <see cref="UpgradeJournal"/> drops (a per-row clock reading nothing used).</summary>
    public static readonly IReadOnlyList<string> RetiredColumns = ["written"];

    public static string DropJournal(string name) => $"DROP TABLE IF EXISTS {JournalQualified(name)}";

    /// <summary>
    /// The body PostgreSQL keeps verbatim in pg_proc.prosrc: install compares it to detect drift. Every name is
    /// schema-qualified (operators too), on top of the pinned search_path.
    /// </summary>
    public static string FunctionBody(string name) => $$"""

        DECLARE
            event_schema pg_catalog.text;
            event_table pg_catalog.text;
        BEGIN
            IF TG_NARGS OPERATOR(pg_catalog.>) 0 THEN
                -- A partitioned or filtered table (its columns, or an UPDATE sent as INSERT or DELETE by the row condition): slower, and only here.
                {{CaptureTriggers.SetEventNames("event_schema", "event_table")}}
                IF TG_OP OPERATOR(pg_catalog.=) 'TRUNCATE' THEN
                    INSERT INTO {{JournalQualified(name)}} (table_schema, table_name, operation)
                    VALUES (event_schema, event_table, 'TRUNCATE');
                ELSIF {{CaptureTriggers.HasColumnFilter}} THEN
                    INSERT INTO {{JournalQualified(name)}} (table_schema, table_name, operation, data, old)
                    SELECT event_schema, event_table, r.action,
                           {{CaptureTriggers.FilterColumns("r.data")}},
                           CASE WHEN r.action OPERATOR(pg_catalog.=) 'UPDATE' THEN {{CaptureTriggers.FilterColumns("pg_catalog.row_to_json(OLD)")}} END
                    FROM (SELECT {{CaptureTriggers.EventAction}} AS action,
                                 CASE WHEN {{CaptureTriggers.EventAction}} OPERATOR(pg_catalog.=) 'DELETE' THEN pg_catalog.row_to_json(OLD)
                                      ELSE pg_catalog.row_to_json(NEW) END AS data) AS r;
                ELSE
                    INSERT INTO {{JournalQualified(name)}} (table_schema, table_name, operation, data, old)
                    SELECT event_schema, event_table, r.action,
                           CASE WHEN r.action OPERATOR(pg_catalog.=) 'DELETE' THEN pg_catalog.row_to_json(OLD) ELSE pg_catalog.row_to_json(NEW) END,
                           CASE WHEN r.action OPERATOR(pg_catalog.=) 'UPDATE' THEN pg_catalog.row_to_json(OLD) END
                    FROM (SELECT {{CaptureTriggers.EventAction}} AS action) AS r;
                END IF;
                RETURN NULL;
            END IF;
            -- One INSERT per operation: each cached plan computes only its own operation's row images.
            IF TG_OP OPERATOR(pg_catalog.=) 'INSERT' THEN
                INSERT INTO {{JournalQualified(name)}} (table_schema, table_name, operation, data)
                VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'INSERT', pg_catalog.row_to_json(NEW));
            ELSIF TG_OP OPERATOR(pg_catalog.=) 'UPDATE' THEN
                INSERT INTO {{JournalQualified(name)}} (table_schema, table_name, operation, data, old)
                VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'UPDATE', pg_catalog.row_to_json(NEW), pg_catalog.row_to_json(OLD));
            ELSIF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
                INSERT INTO {{JournalQualified(name)}} (table_schema, table_name, operation, data)
                VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'DELETE', pg_catalog.row_to_json(OLD));
            ELSE
                INSERT INTO {{JournalQualified(name)}} (table_schema, table_name, operation)
                VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, 'TRUNCATE');
            END IF;
            -- No NOTIFY: at commit it takes a database-wide lock held through the WAL flush, so writers that
            -- notify cannot share a flush. The reader polls instead (see JournalPollPacing).
            RETURN NULL;
        END;

        """;

    public static string CreateFunction(string name) =>
        $"CREATE OR REPLACE FUNCTION {FunctionQualified(name)}() RETURNS trigger LANGUAGE plpgsql " +
        $"SECURITY INVOKER SET search_path = pg_catalog, pg_temp AS $pgsource${FunctionBody(name)}$pgsource$";

    /// <summary>The journal's row-level security policy; the version in its name changes when its rule does.</summary>
    public const string AccessPolicy = "capture_v2";

    /// <summary>Policies of earlier versions, dropped when the current one is put in place (policies of a table are OR-ed).</summary>
    private static readonly string[] RetiredPolicies = ["capture_v1"];

    /// <summary>
    /// How writers reach the journal without any right they did not have: INSERT for PUBLIC (and USAGE on the
    /// schema), admitted by <see cref="AccessPolicy"/> only from inside a trigger and only for a table and operation
    /// the writing role may perform itself (an UPDATE a table's row condition sends as INSERT or DELETE counts as the
    /// UPDATE it is). Everything else stays the owner's. Idempotent.
    /// </summary>
    public static string JournalAccess(string name)
    {
        var retired = string.Concat(RetiredPolicies.Select(p => $"DROP POLICY IF EXISTS {Sql.Identifier(p)} ON {JournalQualified(name)};\n"));
        var table = "pg_catalog.format('%I.%I', table_schema, table_name)";
        return $"REVOKE ALL ON {JournalQualified(name)} FROM PUBLIC;\n" +
            $"GRANT USAGE ON SCHEMA {Sql.Identifier(name)} TO PUBLIC;\n" +
            $"GRANT INSERT ON {JournalQualified(name)} TO PUBLIC;\n" +
            $"ALTER TABLE {JournalQualified(name)} ENABLE ROW LEVEL SECURITY;\n" +
            retired +
            $"DROP POLICY IF EXISTS {Sql.Identifier(AccessPolicy)} ON {JournalQualified(name)};\n" +
            $"CREATE POLICY {Sql.Identifier(AccessPolicy)} ON {JournalQualified(name)} FOR INSERT TO PUBLIC WITH CHECK (" +
            "pg_catalog.pg_trigger_depth() OPERATOR(pg_catalog.>) 0 AND (" +
            $"pg_catalog.has_table_privilege({table}, operation) OR " +
            $"(operation OPERATOR(pg_catalog.=) ANY (ARRAY['INSERT', 'UPDATE']) AND pg_catalog.has_any_column_privilege({table}, operation)) OR " +
            $"(operation OPERATOR(pg_catalog.=) ANY (ARRAY['INSERT', 'DELETE']) AND pg_catalog.has_any_column_privilege({table}, 'UPDATE'))))";
    }

    public static string DropFunction(string name) => $"DROP FUNCTION IF EXISTS {FunctionQualified(name)}()";

}
