using System.Text.Json;
using PostgresSource.Core.Naming;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Capture;

/// <summary>
/// The triggers of the two trigger modes (Durable and Notify), planned in one place. Per table, unfiltered: an AFTER
/// ROW trigger for INSERT, UPDATE and DELETE named by the object name (the seed's name), and an AFTER TRUNCATE
/// statement trigger named <see cref="TruncateName"/>; a filter's operations narrow their event lists. A filter's row
/// condition becomes WHEN clauses, which need a trigger per case because an INSERT has no OLD row and a DELETE no
/// NEW one: INSERT (the object name), UPDATE that stays in the condition, UPDATE that enters it (sent as INSERT),
/// UPDATE that leaves it (sent as DELETE), and DELETE: the rule a publication's row filter follows, so every mode
/// sends the same events. All call the mode's function; what differs per table travels in the trigger's arguments
/// (<see cref="Arguments"/>), which PostgreSQL copies onto the partitions of a partitioned table, attached later
/// ones too.
/// By default a trigger fires only in sessions whose session_replication_role is origin (what PostgreSQL does
/// with a plain ENABLE): changes applied by logical replication or restored with triggers disabled are not
/// captured. <see cref="InstallOptions.CaptureReplicaSessions"/> makes them ENABLE ALWAYS.
/// </summary>
internal static class CaptureTriggers
{
    /// <summary>
    /// The trigger arguments, by position; an empty one means "not set", and trailing empty ones are left out, so an
    /// unfiltered table's triggers pass nothing, as before filters existed.
    /// </summary>
    public static class Arguments
    {
        /// <summary>A partitioned table's names as installed: set, events name the parent (see <see cref="SetEventNames"/>).</summary>
        public const int EventSchema = 0, EventTable = 1;

        /// <summary>The column filter as JSON: {"include":[..]} or {"exclude":[..]}, "mask":[..], "hash":true.</summary>
        public const int Columns = 2;

        /// <summary>The action an event names when it is not the operation (an UPDATE entering or leaving the row condition).</summary>
        public const int Action = 3;

        /// <summary>The row condition as the user wrote it: for listings and for telling a changed filter.</summary>
        public const int Where = 4;
    }

    /// <summary>
    /// Sets the PL/pgSQL variables <paramref name="schema"/> and <paramref name="table"/> to the names an event carries:
    /// for a trigger made on a partitioned table (its first argument set; PostgreSQL clones it onto every partition)
    /// the name that table has now, found as the partition's ancestor holding the trigger itself, so a change in a
    /// partition names the parent, also after the parent was renamed; otherwise the table the trigger fired on.
    /// Two catalog lookups per row, for partitioned tables only.
    /// </summary>
    public static string SetEventNames(string schema, string table) => $"""
        IF TG_ARGV[0] OPERATOR(pg_catalog.<>) '' THEN
                SELECT n.nspname, c.relname INTO {schema}, {table}
                FROM pg_catalog.pg_partition_ancestors(TG_RELID) AS a(relid)
                JOIN pg_catalog.pg_trigger t ON t.tgrelid OPERATOR(pg_catalog.=) a.relid AND t.tgname OPERATOR(pg_catalog.=) TG_NAME AND t.tgparentid OPERATOR(pg_catalog.=) 0
                JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) a.relid
                JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace;
            END IF;
            IF {table} IS NULL THEN
                {schema} = TG_TABLE_SCHEMA;
                {table} = TG_TABLE_NAME;
            END IF;
        """;

    /// <summary>The action an event names: the operation, unless the trigger says otherwise.</summary>
    public const string EventAction = "COALESCE(NULLIF(TG_ARGV[3], ''), TG_OP)";

    /// <summary>True in a trigger whose table has a column filter (the functions take their slower path only then).</summary>
    public const string HasColumnFilter = "TG_NARGS OPERATOR(pg_catalog.>) 2 AND TG_ARGV[2] OPERATOR(pg_catalog.<>) ''";

    /// <summary>
    /// The row image <paramref name="row"/> (a json value) as the table's column filter leaves it: only included
    /// columns, without excluded ones, masked ones replaced (a null stays null: there is nothing to hide), keys in the
    /// table's column order. For use where <see cref="HasColumnFilter"/> holds.
    /// </summary>
    public static string FilterColumns(string row) => $"""
        (SELECT COALESCE(pg_catalog.json_object_agg(e.key,
                    CASE WHEN NOT COALESCE((f.spec OPERATOR(pg_catalog.->) 'mask') OPERATOR(pg_catalog.?) e.key, false)
                              OR pg_catalog.json_typeof(e.value) OPERATOR(pg_catalog.=) 'null' THEN e.value
                         WHEN f.spec OPERATOR(pg_catalog.?) 'hash'
                              THEN pg_catalog.to_json(pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(e.value OPERATOR(pg_catalog.#>>) '{"{}"}', 'UTF8')), 'hex'))
                         ELSE pg_catalog.to_json({Sql.Literal(TableFilter.Placeholder)}::pg_catalog.text) END
                    ORDER BY e.n), '{"{}"}'::pg_catalog.json)
             FROM pg_catalog.json_each({row}) WITH ORDINALITY AS e(key, value, n),
                  (SELECT TG_ARGV[2]::pg_catalog.jsonb AS spec) AS f
             WHERE (NOT f.spec OPERATOR(pg_catalog.?) 'include' OR (f.spec OPERATOR(pg_catalog.->) 'include') OPERATOR(pg_catalog.?) e.key)
               AND NOT COALESCE((f.spec OPERATOR(pg_catalog.->) 'exclude') OPERATOR(pg_catalog.?) e.key, false))
        """;

    /// <summary>The statement trigger's name: trigger names are per table, so it needs its own.</summary>
    public static string TruncateName(string name) => ChildName.Make(name, "_truncate");

    /// <summary>Every trigger name a source may use on a table (listings, uninstall and scripts look for all).</summary>
    public static IReadOnlyList<string> Names(string name) =>
        [name, TruncateName(name), .. ConditionSuffixes.Select(s => ChildName.Make(name, s))];

    private static readonly string[] ConditionSuffixes = ["_update", "_enter", "_leave", "_delete"];

    /// <summary>The changes that bring one table's triggers to what the source wants, dropping those it no longer wants.</summary>
    public static IEnumerable<SchemaChange> Plan(
        string name, string function, uint? functionOid, ResolvedTable table,
        IReadOnlyList<TriggerCatalog.TriggerInfo> existing, InstallOptions options)
    {
        var wanted = Wanted(name, function, table.Qualified, table.Filter, table.Partitioned ? (table.Schema, table.Name) : null, table.Columns).ToList();
        foreach (var trigger in wanted)
        {
            var target = Target(table.ToString(), name, trigger.Name);
            var found = existing.FirstOrDefault(t => t.TableOid == table.Oid && t.TriggerName == trigger.Name);
            var enable = EnableSql(trigger.Name, table.Qualified, options.CaptureReplicaSessions);
            if (found is null)
            {
                yield return new SchemaChange(SchemaChangeKind.CreateTrigger, target, Join(trigger.Create, enable));
            }
            else if (found.Type != trigger.Type || functionOid is null || found.FunctionOid != functionOid || found.Enabled is 'D' or 'R'
                     || !(found.Arguments ?? []).SequenceEqual(trigger.Arguments))
            {
                // Another mode's trigger, a disabled or altered one, another filter: replaced, same name, this mode's function.
                yield return new SchemaChange(SchemaChangeKind.ReplaceTrigger, target,
                    Join(Drop(trigger.Name, table.Qualified) + ";\n" + trigger.Create, enable ?? KeepAlways(found, trigger.Name, table.Qualified)));
            }
            else if (options.CaptureReplicaSessions is { } always && (found.Enabled == 'A') != always)
            {
                yield return new SchemaChange(SchemaChangeKind.EnableTrigger, target, enable!);
            }
        }
        foreach (var stale in existing.Where(t => t.TableOid == table.Oid && wanted.All(w => w.Name != t.TriggerName)))
        {
            yield return new SchemaChange(SchemaChangeKind.DropTrigger, stale.Describe(name), Drop(stale.TriggerName, table.Qualified));
        }
    }

    /// <summary>The idempotent script form, for a table as the user wrote it.</summary>
    /// <exception cref="NotSupportedException">The table's filter has a row condition: qualifying it needs the table's columns.</exception>
    public static IEnumerable<SchemaChange> Script(
        string name, string function, string qualifiedTable, string tableText, TableFilter? filter, InstallOptions options)
    {
        if (filter?.Where is not null)
        {
            throw new NotSupportedException(
                $"A script made without a database cannot hold the row condition of table '{tableText}': its triggers need the table's columns. Install against the database to plan it.");
        }
        // Every name is dropped first, so a script also removes triggers an earlier filter needed.
        var wanted = Wanted(name, function, qualifiedTable, filter, null, []).ToList();
        foreach (var stale in Names(name).Where(n => wanted.All(w => w.Name != n)))
        {
            yield return new SchemaChange(SchemaChangeKind.DropTrigger, Target(tableText, name, stale), Drop(stale, qualifiedTable));
        }
        // Without a database the script cannot tell a partitioned table: its events name the partitions (install directly for the parent's name).
        foreach (var trigger in wanted)
        {
            yield return new SchemaChange(SchemaChangeKind.CreateTrigger, Target(tableText, name, trigger.Name),
                Join(Drop(trigger.Name, qualifiedTable) + ";\n" + trigger.Create, EnableSql(trigger.Name, qualifiedTable, options.CaptureReplicaSessions)));
        }
    }

    public static string Drop(string triggerName, string qualifiedTable) =>
        $"DROP TRIGGER IF EXISTS {Sql.Identifier(triggerName)} ON {qualifiedTable}";

    /// <summary>
    /// The filter a table's triggers apply, read back from their arguments and their operations
    /// (<paramref name="tgtype"/>: the bits of all of them together); null when they apply none.
    /// </summary>
    public static TableFilter? FilterOf(TableName table, int tgtype, IReadOnlyList<string> arguments)
    {
        var operations = (TableOperations)(((tgtype & TriggerCatalog.InsertBit) != 0 ? 1 : 0) | ((tgtype & TriggerCatalog.UpdateBit) != 0 ? 2 : 0)
                                           | ((tgtype & TriggerCatalog.DeleteBit) != 0 ? 4 : 0) | ((tgtype & TriggerCatalog.TruncateBit) != 0 ? 8 : 0));
        var filter = new TableFilter { Table = table, Operations = operations };
        if (Argument(arguments, Arguments.Columns) is { } columns)
        {
            using var json = JsonDocument.Parse(columns);
            filter = filter with
            {
                IncludeColumns = Strings(json.RootElement, "include"),
                ExcludeColumns = Strings(json.RootElement, "exclude"),
                MaskColumns = Strings(json.RootElement, "mask"),
                MaskStyle = json.RootElement.TryGetProperty("hash", out _) ? MaskStyle.Hash : MaskStyle.Placeholder,
            };
        }
        filter = filter with { Where = Argument(arguments, Arguments.Where) };
        return filter.IsEmpty ? null : filter;
    }

    private static string? Argument(IReadOnlyList<string> arguments, int index) =>
        index < arguments.Count && arguments[index].Length > 0 ? arguments[index] : null;

    private static IReadOnlyList<string> Strings(JsonElement root, string property) =>
        root.TryGetProperty(property, out var list) ? [.. list.EnumerateArray().Select(e => e.GetString()!)] : [];

    /// <summary>The column filter as the functions read it; null for a table whose columns all go out as they are.</summary>
    private static string? ColumnsArgument(TableFilter? filter)
    {
        if (filter is not { ShapesColumns: true })
        {
            return null;
        }
        var spec = new Dictionary<string, object>();
        if (filter.IncludeColumns.Count > 0) spec["include"] = filter.IncludeColumns;
        if (filter.ExcludeColumns.Count > 0) spec["exclude"] = filter.ExcludeColumns;
        if (filter.MaskColumns.Count > 0) spec["mask"] = filter.MaskColumns;
        if (filter.MaskColumns.Count > 0 && filter.MaskStyle == MaskStyle.Hash) spec["hash"] = true;
        return JsonSerializer.Serialize(spec);
    }

    private sealed record WantedTrigger(string Name, int Type, IReadOnlyList<string> Arguments, string Create);

    private static IEnumerable<WantedTrigger> Wanted(
        string name, string function, string qualifiedTable, TableFilter? filter, (string Schema, string Table)? parent, IReadOnlyList<string> columns)
    {
        var operations = filter?.Operations ?? TableOperations.All;
        string?[] common = [parent?.Schema, parent?.Table, ColumnsArgument(filter), null, filter?.Where];

        WantedTrigger Make(string triggerName, int type, string events, string? when, string? action, bool statement)
        {
            var arguments = Trim([.. common[..Arguments.Action], action, common[Arguments.Where]]);
            var call = $"{function}({string.Join(", ", arguments.Select(Sql.Literal))})";
            var condition = when is null ? "" : $" WHEN ({when})";
            var create = $"CREATE TRIGGER {Sql.Identifier(triggerName)} AFTER {events} ON {qualifiedTable} " +
                $"FOR EACH {(statement ? "STATEMENT" : "ROW")}{condition} EXECUTE FUNCTION {call}";
            return new WantedTrigger(triggerName, type, arguments, create);
        }

        const int Row = TriggerCatalog.RowBit;
        if (filter?.Where is not { } where)
        {
            var rowEvents = new List<string>(3);
            var type = Row;
            if ((operations & TableOperations.Insert) != 0) { rowEvents.Add("INSERT"); type |= TriggerCatalog.InsertBit; }
            if ((operations & TableOperations.Update) != 0) { rowEvents.Add("UPDATE"); type |= TriggerCatalog.UpdateBit; }
            if ((operations & TableOperations.Delete) != 0) { rowEvents.Add("DELETE"); type |= TriggerCatalog.DeleteBit; }
            if (rowEvents.Count > 0)
            {
                yield return Make(name, type, string.Join(" OR ", rowEvents), null, null, statement: false);
            }
        }
        else
        {
            var isNew = $"({RowPredicate.Qualify(where, columns, "NEW")}) IS TRUE";
            var wasOld = $"({RowPredicate.Qualify(where, columns, "OLD")}) IS TRUE";
            if ((operations & TableOperations.Insert) != 0)
            {
                yield return Make(name, Row | TriggerCatalog.InsertBit, "INSERT", isNew, null, statement: false);
            }
            if ((operations & TableOperations.Update) != 0)
            {
                yield return Make(ChildName.Make(name, "_update"), Row | TriggerCatalog.UpdateBit, "UPDATE", $"{wasOld} AND {isNew}", null, statement: false);
                yield return Make(ChildName.Make(name, "_enter"), Row | TriggerCatalog.UpdateBit, "UPDATE", $"NOT {wasOld} AND {isNew}", "INSERT", statement: false);
                yield return Make(ChildName.Make(name, "_leave"), Row | TriggerCatalog.UpdateBit, "UPDATE", $"{wasOld} AND NOT {isNew}", "DELETE", statement: false);
            }
            if ((operations & TableOperations.Delete) != 0)
            {
                yield return Make(ChildName.Make(name, "_delete"), Row | TriggerCatalog.DeleteBit, "DELETE", wasOld, null, statement: false);
            }
        }
        if ((operations & TableOperations.Truncate) != 0)
        {
            yield return Make(TruncateName(name), TriggerCatalog.TruncateBit, "TRUNCATE", null, null, statement: true);
        }
    }

    /// <summary>Empty for unset, trailing unset ones left out.</summary>
    private static IReadOnlyList<string> Trim(string?[] arguments)
    {
        var count = arguments.Length;
        while (count > 0 && string.IsNullOrEmpty(arguments[count - 1])) count--;
        return [.. arguments[..count].Select(a => a ?? "")];
    }

    private static string? EnableSql(string triggerName, string qualifiedTable, bool? always) => always switch
    {
        true => $"ALTER TABLE {qualifiedTable} ENABLE ALWAYS TRIGGER {Sql.Identifier(triggerName)}",
        false => $"ALTER TABLE {qualifiedTable} ENABLE TRIGGER {Sql.Identifier(triggerName)}",
        null => null,
    };

    /// <summary>A replaced trigger keeps firing in replica sessions if the one it replaces did and nothing was asked.</summary>
    private static string? KeepAlways(TriggerCatalog.TriggerInfo found, string triggerName, string qualifiedTable) =>
        found.Enabled == 'A' ? EnableSql(triggerName, qualifiedTable, true) : null;

    /// <summary>What a plan line names: the table for the row trigger (as before), "table (TRUNCATE)" and the like for the others.</summary>
    private static string Target(string table, string name, string triggerName) =>
        triggerName == name ? table : $"{table} ({Role(name, triggerName)})";

    /// <summary>The case a trigger other than the row trigger serves, as plan lines name it.</summary>
    public static string Role(string name, string triggerName) =>
        triggerName == TruncateName(name) ? "TRUNCATE"
        : triggerName == ChildName.Make(name, "_update") ? "UPDATE"
        : triggerName == ChildName.Make(name, "_enter") ? "UPDATE into the condition"
        : triggerName == ChildName.Make(name, "_leave") ? "UPDATE out of the condition"
        : triggerName == ChildName.Make(name, "_delete") ? "DELETE"
        : "INSERT";

    private static string Join(string first, string? second) => second is null ? first : first + ";\n" + second;
}
