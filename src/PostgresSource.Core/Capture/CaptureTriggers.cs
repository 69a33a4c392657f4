using PostgresSource.Core.Naming;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture;

/// <summary>
/// The triggers of the two trigger modes (Durable and Notify), planned in one place: per table, an AFTER ROW
/// trigger for INSERT, UPDATE and DELETE named by the object name (the seed's name), and an AFTER TRUNCATE
/// statement trigger named <see cref="TruncateName"/>. Both call the mode's function.
/// By default a trigger fires only in sessions whose session_replication_role is origin (what PostgreSQL does
/// with a plain ENABLE): changes applied by logical replication or restored with triggers disabled are not
/// captured. <see cref="InstallOptions.CaptureReplicaSessions"/> makes them ENABLE ALWAYS.
/// </summary>
internal static class CaptureTriggers
{
    private const int RowChanges = TriggerCatalog.RowBit | TriggerCatalog.InsertBit | TriggerCatalog.DeleteBit | TriggerCatalog.UpdateBit;

    /// <summary>
    /// The schema and table an event names, as the trigger functions compute them: the trigger's arguments when it was
    /// made on a partitioned table (PostgreSQL clones it onto every partition, attached later ones too, with the same
    /// arguments, so a change in a partition names the parent), else the table it fired on. Costs nothing per row.
    /// </summary>
    public const string EventSchema = "COALESCE(TG_ARGV[0], TG_TABLE_SCHEMA)";

    /// <inheritdoc cref="EventSchema"/>
    public const string EventTable = "COALESCE(TG_ARGV[1], TG_TABLE_NAME)";

    /// <summary>The statement trigger's name: trigger names are per table, so it needs its own.</summary>
    public static string TruncateName(string name) => ChildName.Make(name, "_truncate");

    /// <summary>Both trigger names of a source.</summary>
    public static IReadOnlyList<string> Names(string name) => [name, TruncateName(name)];

    /// <summary>The changes that bring one table's two triggers to what the source wants.</summary>
    public static IEnumerable<SchemaChange> Plan(
        string name, string function, uint? functionOid, ResolvedTable table,
        IReadOnlyList<TriggerCatalog.TriggerInfo> existing, InstallOptions options)
    {
        var arguments = ArgumentsFor(table);
        foreach (var (triggerName, create, matches) in Wanted(name, function, table.Qualified, arguments))
        {
            var target = Target(table.ToString(), name, triggerName);
            var found = existing.FirstOrDefault(t => t.TableOid == table.Oid && t.TriggerName == triggerName);
            var enable = EnableSql(triggerName, table.Qualified, options.CaptureReplicaSessions);
            if (found is null)
            {
                yield return new SchemaChange(SchemaChangeKind.CreateTrigger, target, Join(create, enable));
            }
            else if (!matches(found.Type) || functionOid is null || found.FunctionOid != functionOid || found.Enabled is 'D' or 'R'
                     || !(found.Arguments ?? []).SequenceEqual(arguments))
            {
                // Another mode's trigger, a disabled or altered one: replaced, same name, this mode's function.
                yield return new SchemaChange(SchemaChangeKind.ReplaceTrigger, target,
                    Join(Drop(triggerName, table.Qualified) + ";\n" + create, enable ?? KeepAlways(found, triggerName, table.Qualified)));
            }
            else if (options.CaptureReplicaSessions is { } always && (found.Enabled == 'A') != always)
            {
                yield return new SchemaChange(SchemaChangeKind.EnableTrigger, target, enable!);
            }
        }
    }

    /// <summary>The idempotent script form, for a table as the user wrote it.</summary>
    public static IEnumerable<SchemaChange> Script(string name, string function, string qualifiedTable, string tableText, InstallOptions options)
    {
        // Without a database the script cannot tell a partitioned table: its events name the partitions (install directly for the parent's name).
        foreach (var (triggerName, create, _) in Wanted(name, function, qualifiedTable, []))
        {
            yield return new SchemaChange(SchemaChangeKind.CreateTrigger, Target(tableText, name, triggerName),
                Join(Drop(triggerName, qualifiedTable) + ";\n" + create, EnableSql(triggerName, qualifiedTable, options.CaptureReplicaSessions)));
        }
    }

    public static string Drop(string triggerName, string qualifiedTable) =>
        $"DROP TRIGGER IF EXISTS {Sql.Identifier(triggerName)} ON {qualifiedTable}";

    /// <summary>True for a trigger of either shape this class makes.</summary>
    public static bool IsCaptureShape(int tgtype) => IsRowShape(tgtype) || IsTruncateShape(tgtype);

    /// <summary>The row trigger (the one listings show per table).</summary>
    public static bool IsRowShape(int tgtype) =>
        (tgtype & (RowChanges | TriggerCatalog.TruncateBit | TriggerCatalog.BeforeBit | TriggerCatalog.InsteadBit)) == RowChanges;

    private static bool IsTruncateShape(int tgtype) =>
        (tgtype & (TriggerCatalog.RowBit | TriggerCatalog.BeforeBit | TriggerCatalog.InsteadBit | TriggerCatalog.TruncateBit
                   | TriggerCatalog.InsertBit | TriggerCatalog.DeleteBit | TriggerCatalog.UpdateBit)) == TriggerCatalog.TruncateBit;

    /// <summary>What the triggers pass their function: the table's own names on a partitioned table, nothing otherwise.</summary>
    private static IReadOnlyList<string> ArgumentsFor(ResolvedTable table) => table.Partitioned ? [table.Schema, table.Name] : [];

    private static IEnumerable<(string Name, string Create, Func<int, bool> Matches)> Wanted(
        string name, string function, string qualifiedTable, IReadOnlyList<string> arguments)
    {
        var call = $"{function}({string.Join(", ", arguments.Select(Sql.Literal))})";
        yield return (name,
            $"CREATE TRIGGER {Sql.Identifier(name)} AFTER INSERT OR UPDATE OR DELETE ON {qualifiedTable} FOR EACH ROW EXECUTE FUNCTION {call}",
            IsRowShape);
        var truncate = TruncateName(name);
        yield return (truncate,
            $"CREATE TRIGGER {Sql.Identifier(truncate)} AFTER TRUNCATE ON {qualifiedTable} FOR EACH STATEMENT EXECUTE FUNCTION {call}",
            IsTruncateShape);
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

    /// <summary>What a plan line names: the table for the row trigger (as before), "table (TRUNCATE)" for the other.</summary>
    private static string Target(string table, string name, string triggerName) =>
        triggerName == name ? table : table + " (TRUNCATE)";

    private static string Join(string first, string? second) => second is null ? first : first + ";\n" + second;
}
