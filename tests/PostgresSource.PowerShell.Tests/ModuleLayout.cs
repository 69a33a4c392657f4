namespace PostgresSource.PowerShell.Tests;

/// <summary>Where the built module and the repository are, found from the test assembly's folder.</summary>
internal static class ModuleLayout
{
    public static string RepositoryRoot => PostgresSource.TestSupport.RepositoryLayout.Root;

    public static string ModuleDirectory => Path.Combine(RepositoryRoot, "out", "PostgresSource");

    public static string ManifestPath => Path.Combine(ModuleDirectory, "PostgresSource.psd1");

    /// <summary>Debug or Release, whichever built this test assembly.</summary>
    public static string Configuration =>
        new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;

}
