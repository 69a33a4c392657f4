namespace PostgresSource.Core.Database;

/// <summary>One row of what is installed: a source's function and its trigger on one table (or no table).</summary>
public sealed record InstalledSourceObject
{
    public required string ObjectName { get; init; }
    /// <summary>The source name when the object name can be read back (not hashed); otherwise null.</summary>
    public string? SourceName { get; init; }
    public string? Uid { get; init; }
    public string? FunctionSchema { get; init; }
    public bool FunctionPresent { get; init; }
    public string? TableSchema { get; init; }
    public string? Table { get; init; }
    public bool TriggerPresent { get; init; }
    public IReadOnlyList<string> Operations { get; init; } = [];
    public bool TriggerEnabled { get; init; }
    /// <summary>Notify when the function body is this product's, "seed" for the Go controller's, "unknown" otherwise.</summary>
    public string Flavor { get; init; } = "unknown";
}
