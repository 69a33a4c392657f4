namespace PostgresSource.PowerShell;

/// <summary>One source's function and its trigger on one table, as found in a database.</summary>
public sealed class PgSourceTriggerInfo
{
    public string? SourceName { get; init; }
    public string? Uid { get; init; }
    public required string ObjectName { get; init; }
    public string? Schema { get; init; }
    public string? Table { get; init; }
    public bool FunctionPresent { get; init; }
    public bool TriggerPresent { get; init; }
    public bool Enabled { get; init; }
    public string[] Operations { get; init; } = [];
    /// <summary>Notify for this module's function, Seed for the original Go controller's, Other otherwise.</summary>
    public string? Flavor { get; init; }
    public string? FunctionSchema { get; init; }
}
