namespace PostgresSource.PowerShell;

/// <summary>What Install- or Uninstall-PgSourceTrigger did (or would do) for one source.</summary>
public sealed class PgSourceChangeResult
{
    public required string Source { get; init; }
    public required string ObjectName { get; init; }
    /// <summary>Installed, Updated, Unchanged, Removed, Absent, or Skipped (declined by -WhatIf/-Confirm).</summary>
    public required string Status { get; init; }
    public required bool Changed { get; init; }
    public required string[] Changes { get; init; }
    public required string[] Tables { get; init; }
    /// <summary>The database the change was made in (piped on, it binds to -ConnectionString).</summary>
    public required PgSourceConnection Connection { get; init; }
    public string? Host => Connection.Host;
    public string? Database => Connection.Database;
    public override string ToString() => $"{Status} {Source} in {Connection}";
}
