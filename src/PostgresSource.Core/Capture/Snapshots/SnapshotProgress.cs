namespace PostgresSource.Core.Capture.Snapshots;

/// <summary>How far an initial snapshot has come, reported after each chunk of rows and when a table is done.</summary>
/// <param name="Schema">The table being read.</param>
/// <param name="Table">The table being read.</param>
/// <param name="TableNumber">1-based position of the table among those the snapshot reads.</param>
/// <param name="TableCount">How many tables the snapshot reads.</param>
/// <param name="RowsRead">Rows of this table emitted so far, counting earlier, interrupted attempts.</param>
/// <param name="EstimatedRows">The planner's estimate of the table's rows (pg_class.reltuples), when known.</param>
/// <param name="TableDone">This table is completely read.</param>
/// <param name="Resumed">The table continues where an interrupted snapshot stopped.</param>
/// <param name="Segment">The snapshot session (1 for the first attempt, higher after interruptions).</param>
internal sealed record SnapshotProgress(
    string Schema, string Table, int TableNumber, int TableCount, long RowsRead, long? EstimatedRows,
    bool TableDone, bool Resumed, int Segment)
{
    /// <summary>Fraction of the table read, 0..1, when an estimate exists.</summary>
    public double? Fraction => EstimatedRows is > 0 ? Math.Min(1.0, RowsRead / (double)EstimatedRows.Value) : null;
}
