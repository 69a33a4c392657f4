using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace PostgresSource.Pester.Tests;

/// <summary>Real pwsh 7 from the repository's local tool manifest (.config/dotnet-tools.json), run as a user runs it.</summary>
internal static class PwshProcess
{
    private static readonly Lazy<string> Restored = new(RestoreTools);

    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>Pester's manifest in the NuGet cache, as restore placed it (see the project's PackageDownload).</summary>
    public static string PesterManifest { get; } = typeof(PwshProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "PesterManifest").Value!;

    /// <summary>The NuGet global packages folder restore used (the tool and Pester live there).</summary>
    public static string NuGetPackageRoot { get; } = Path.TrimEndingDirectorySeparator(typeof(PwshProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "NuGetPackageRoot").Value!);

    /// <summary>Runs `dotnet pwsh -NoProfile -NonInteractive -File script args` and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunFileAsync(string script, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?> environment, TimeSpan timeout)
    {
        _ = Restored.Value;
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = RepositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { "pwsh", "-NoProfile", "-NonInteractive", "-File", script }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }
        // The suite picks its database and module itself; nothing from the developer's shell may leak in.
        foreach (var name in new[] { "PGSOURCE_CONNECTION", "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSERVICE", "KUBECONFIG" })
        {
            start.Environment.Remove(name);
        }
        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }
        start.Environment["NO_COLOR"] = "1";

        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        var gate = new object();
        void Append(string? line)
        {
            if (line is not null)
            {
                lock (gate)
                {
                    output.AppendLine(line);
                }
            }
        }
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Append($"pwsh did not finish within {timeout.TotalMinutes:0} minutes and was stopped.");
            return (-1, output.ToString());
        }
        lock (gate)
        {
            return (process.ExitCode, output.ToString());
        }
    }

    /// <summary>dotnet tool restore: a fresh machine gets pwsh from NuGet through the project's own manifest.</summary>
    private static string RestoreTools()
    {
        var start = new ProcessStartInfo("dotnet", "tool restore") { WorkingDirectory = RepositoryRoot, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var log = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException("dotnet tool restore failed:\n" + log);
        }
        return log;
    }

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
