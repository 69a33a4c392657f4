namespace PostgresSource.PowerShell;

/// <summary>What Start-PgSourceSnapshot asked for: the source's tables to be read again (its listener does the reading).</summary>
public sealed class PgSourceSnapshotRequest
{
    public required string Source { get; init; }
    public required string[] Tables { get; init; }
    /// <summary>The database the request was recorded in.</summary>
    public required PgSourceConnection Connection { get; init; }
    public override string ToString() => $"Backfill of {string.Join(", ", Tables)} requested for {Source}";
}
