namespace PostgresSource.PowerShell;

/// <summary>The details Test-PgSourceConnection -Detailed returns. Target has its password masked.</summary>
public sealed class PgSourceConnectionTest
{
    public required bool Success { get; init; }
    public required string Target { get; init; }
    /// <summary>The connection tested, password masked (piped on, it binds to -ConnectionString).</summary>
    public required PgSourceConnection Connection { get; init; }
    public string? Host => Connection.Host;
    public string? ServerVersion { get; init; }
    public string? Database { get; init; }
    public string? User { get; init; }
    public string? WalLevel { get; init; }
    public bool CanReplicate { get; init; }
    public TimeSpan Elapsed { get; init; }
    public string? FailureKind { get; init; }
    public string? Reason { get; init; }
    /// <summary>What each mode asked for (-Mode, default all three) needs, and whether this role has it.</summary>
    public PgSourcePrivilege[] Privileges { get; init; } = [];
    /// <summary>The modes this role can install and listen in, of those checked.</summary>
    public PgSourceMode[] ReadyModes { get; init; } = [];
    /// <summary>The privileges that are missing, one line each with the statement that grants it.</summary>
    public string[] MissingPrivileges => Privileges.Where(p => !p.Granted).Select(p => p.ToString()).ToArray();
}
