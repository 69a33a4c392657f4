using PostgresSource.Core.Sources;

namespace PostgresSource.PowerShell;

/// <summary>
/// What one table of a source sends (New-PgSource -TableFilter, the spec.tables[] filter fields): operations, columns
/// (Column to include only those, or ExcludeColumn), MaskColumn with Mask Placeholder or Hash, and Where, an SQL
/// condition on the table's columns. Settable, so a hashtable converts to it:
/// <c>@{ Table = 'orders'; Operation = 'Insert', 'Update'; ExcludeColumn = 'secret'; Where = 'total > 100' }</c>.
/// Get-PgSourceTrigger shows the filter in force as one of these.
/// </summary>
public sealed class PgSourceTableFilter
{
    public string Table { get; set; } = string.Empty;

    /// <summary>Insert, Update, Delete, Truncate; empty: all of them.</summary>
    public string[] Operation { get; set; } = [];

    /// <summary>Only these columns are sent.</summary>
    public string[] Column { get; set; } = [];

    public string[] ExcludeColumn { get; set; } = [];

    public string[] MaskColumn { get; set; } = [];

    /// <summary>Placeholder (the default, "****") or Hash (SHA-256 of the value's text, hex).</summary>
    public string Mask { get; set; } = nameof(MaskStyle.Placeholder);

    public string? Where { get; set; }

    /// <summary>The filter in one line; never throws (PowerShell formats objects while binding them, valid or not).</summary>
    public override string ToString()
    {
        try
        {
            return Describe(ToCore("TableFilter"));
        }
        catch (SourceValidationException)
        {
            return $"{Table}: {string.Join(",", Operation)} (not a valid filter)";
        }
    }

    /// <exception cref="SourceValidationException">An operation or mask style that does not exist; <paramref name="field"/> names the filter.</exception>
    internal TableFilter ToCore(string field) => new()
    {
        Table = TableName.Parse(string.IsNullOrWhiteSpace(Table) ? throw new SourceValidationException(field, "A table filter names no Table.") : Table),
        Operations = Operation.Length == 0 ? TableOperations.All : TableFilter.ParseOperations(Operation, $"{field}.Operation"),
        IncludeColumns = Column,
        ExcludeColumns = ExcludeColumn,
        MaskColumns = MaskColumn,
        MaskStyle = TableFilter.ParseMaskStyle(Mask, $"{field}.Mask"),
        Where = string.IsNullOrWhiteSpace(Where) ? null : Where,
    };

    internal static PgSourceTableFilter? From(TableFilter? filter) => filter is null ? null : new PgSourceTableFilter
    {
        Table = filter.Table.ToString(),
        Operation = [.. TableFilter.OperationNames(filter.Operations).Select(o => char.ToUpperInvariant(o[0]) + o[1..])],
        Column = [.. filter.IncludeColumns],
        ExcludeColumn = [.. filter.ExcludeColumns],
        MaskColumn = [.. filter.MaskColumns],
        Mask = filter.MaskStyle.ToString(),
        Where = filter.Where,
    };

    /// <summary>One line for tables and logs: "insert,update; columns -note; mask email (hash); where total > 100".</summary>
    private static string Describe(TableFilter filter)
    {
        var parts = new List<string>(4);
        if (filter.Operations != TableOperations.All) parts.Add(string.Join(",", TableFilter.OperationNames(filter.Operations)));
        if (filter.IncludeColumns.Count > 0) parts.Add("columns " + string.Join(",", filter.IncludeColumns));
        if (filter.ExcludeColumns.Count > 0) parts.Add("columns -" + string.Join(",-", filter.ExcludeColumns));
        if (filter.MaskColumns.Count > 0) parts.Add($"mask {string.Join(",", filter.MaskColumns)}{(filter.MaskStyle == MaskStyle.Hash ? " (hash)" : "")}");
        if (filter.Where is not null) parts.Add("where " + filter.Where);
        return parts.Count == 0 ? "(none)" : string.Join("; ", parts);
    }
}
