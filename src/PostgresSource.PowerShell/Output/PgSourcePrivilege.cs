namespace PostgresSource.PowerShell;

/// <summary>
/// One privilege a capture mode needs (Test-PgSourceConnection -Detailed, property Privileges): for what, on what,
/// whether the connecting role has it, and the statement a DBA runs to grant it.
/// </summary>
public sealed class PgSourcePrivilege
{
    public required PgSourceMode Mode { get; init; }
    /// <summary>Install, Listen or Snapshot.</summary>
    public required string Purpose { get; init; }
    public required string Privilege { get; init; }
    public required string On { get; init; }
    public required bool Granted { get; init; }
    public required string Fix { get; init; }

    public override string ToString() => $"{Mode} {Purpose.ToLowerInvariant()}: {Privilege} on {On}{(Granted ? string.Empty : " (missing: " + Fix + ")")}";
}
