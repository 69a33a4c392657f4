namespace PostgresSource.Core.Database;

/// <summary>Choices for installing a source's database objects.</summary>
public sealed record InstallOptions
{
    /// <summary>The schema that holds the source's function (the seed used the search_path's first, normally public).</summary>
    public string FunctionSchema { get; init; } = "public";

    /// <summary>How long DDL may wait for a table lock before failing with a clear error.</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public static InstallOptions Default { get; } = new();
}
