namespace PostgresSource.TestSupport;

/// <summary>The repository's root, found from the test assembly's folder (the directory holding PostgresSource.sln).</summary>
public static class RepositoryLayout
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "PostgresSource.sln")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("Cannot find the repository root (PostgresSource.sln) above " + AppContext.BaseDirectory);
    }
}
