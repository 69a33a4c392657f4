namespace PostgresSource.Core.Database;

/// <summary>A table that exists, as PostgreSQL names it; <paramref name="Partitioned"/>: its rows live in its partitions.</summary>
internal sealed record ResolvedTable(string Schema, string Name, uint Oid, bool Partitioned = false)
{
    /// <summary>What the source sends of this table; null: everything (see <see cref="SourceFilters"/>).</summary>
    public Sources.TableFilter? Filter { get; init; }

    /// <summary>The table's columns in order, read only for a filtered table (a row condition is qualified with them).</summary>
    public IReadOnlyList<string> Columns { get; init; } = [];

    public string Qualified => Sql.Qualified(Schema, Name);
    public override string ToString() => $"{Schema}.{Name}";
}

/// <summary>One or more tables a source names do not exist; nothing was changed.</summary>
internal sealed class MissingTablesException(IReadOnlyList<string> tables)
    : Exception(tables.Count == 1
        ? $"Table '{tables[0]}' does not exist (or is not visible to this user). Nothing was changed."
        : $"Tables {string.Join(", ", tables.Select(t => $"'{t}'"))} do not exist (or are not visible to this user). Nothing was changed.")
{
    public IReadOnlyList<string> Tables { get; } = tables;
}
