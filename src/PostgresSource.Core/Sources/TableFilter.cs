using PostgresSource.Core.Database;

namespace PostgresSource.Core.Sources;

/// <summary>The operations a table's filter lets through; a flag each, so a set reads as one value.</summary>
[Flags]
internal enum TableOperations
{
    None = 0,
    Insert = 1,
    Update = 2,
    Delete = 4,
    Truncate = 8,
    All = Insert | Update | Delete | Truncate,
}

/// <summary>How a masked column's value is replaced: a fixed placeholder, or the SHA-256 of its text (joinable, not readable).</summary>
internal enum MaskStyle
{
    Placeholder,
    Hash,
}

/// <summary>
/// What one table of a source sends: which operations, which columns (an include list or an exclude list, and columns
/// masked), and which rows (<see cref="Where"/>, an SQL condition on the row's columns, as a publication's row filter
/// reads it). The modes apply it in the database where it can (see docs/capture-modes.md). An empty filter sends
/// everything, as a table without one.
/// </summary>
internal sealed record TableFilter
{
    /// <summary>What a masked value becomes under <see cref="MaskStyle.Placeholder"/>.</summary>
    public const string Placeholder = "****";

    public required TableName Table { get; init; }
    public TableOperations Operations { get; init; } = TableOperations.All;
    public IReadOnlyList<string> IncludeColumns { get; init; } = [];
    public IReadOnlyList<string> ExcludeColumns { get; init; } = [];
    public IReadOnlyList<string> MaskColumns { get; init; } = [];
    public MaskStyle MaskStyle { get; init; } = MaskStyle.Placeholder;
    public string? Where { get; init; }

    /// <summary>The filter changes which columns an event carries or what they hold.</summary>
    public bool ShapesColumns => IncludeColumns.Count > 0 || ExcludeColumns.Count > 0 || MaskColumns.Count > 0;

    /// <summary>The filter lets everything through unchanged.</summary>
    public bool IsEmpty => Operations == TableOperations.All && !ShapesColumns && Where is null;

    public bool Allows(TableOperations operation) => (Operations & operation) != 0;

    /// <summary>The names spec.tables[].operations and PGSOURCE_TABLE_FILTERS use, in a fixed order.</summary>
    public static IReadOnlyList<string> OperationNames(TableOperations operations) =>
        [.. new[] { TableOperations.Insert, TableOperations.Update, TableOperations.Delete, TableOperations.Truncate }
            .Where(o => (operations & o) != 0).Select(o => o.ToString().ToLowerInvariant())];

    /// <summary>Reads operation names (any case); an unknown one is a <see cref="SourceValidationException"/> naming <paramref name="field"/>.</summary>
    public static TableOperations ParseOperations(IEnumerable<string> names, string field)
    {
        var operations = TableOperations.None;
        foreach (var name in names)
        {
            operations |= name.Trim().ToLowerInvariant() switch
            {
                "insert" => TableOperations.Insert,
                "update" => TableOperations.Update,
                "delete" => TableOperations.Delete,
                "truncate" => TableOperations.Truncate,
                _ => throw new SourceValidationException(field, $"'{name}' is not an operation: use insert, update, delete or truncate."),
            };
        }
        return operations;
    }

    public static MaskStyle ParseMaskStyle(string? text, string field) => text?.Trim().ToLowerInvariant() switch
    {
        null or "" or "placeholder" => MaskStyle.Placeholder,
        "hash" => MaskStyle.Hash,
        _ => throw new SourceValidationException(field, $"'{text}' is not a mask style: use placeholder or hash."),
    };

    /// <summary>Throws <see cref="SourceValidationException"/> naming the first bad part; <paramref name="field"/> is where the filter came from.</summary>
    public TableFilter Validate(string field)
    {
        if (Operations == TableOperations.None)
        {
            throw new SourceValidationException($"{field}.operations", $"The filter of table '{Table}' lets no operation through: name at least one of insert, update, delete, truncate.");
        }
        if (IncludeColumns.Count > 0 && ExcludeColumns.Count > 0)
        {
            throw new SourceValidationException($"{field}.columns", $"The filter of table '{Table}' both includes and excludes columns: give one list or the other.");
        }
        foreach (var (list, part) in new[] { (IncludeColumns, "columns"), (ExcludeColumns, "excludeColumns"), (MaskColumns, "maskColumns") })
        {
            if (list.Any(string.IsNullOrWhiteSpace) || list.Any(c => c.Contains('\0')))
            {
                throw new SourceValidationException($"{field}.{part}", $"The filter of table '{Table}' names an empty column in {part}.");
            }
        }
        if (Where is not null && RowPredicate.Problem(Where) is { } problem)
        {
            throw new SourceValidationException($"{field}.where", $"The row filter of table '{Table}' is not usable: {problem}.");
        }
        return this;
    }
}
