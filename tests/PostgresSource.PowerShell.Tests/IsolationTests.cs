using System.Diagnostics;

namespace PostgresSource.PowerShell.Tests;

/// <summary>
/// Another module's YamlDotNet, loaded first into the default context, must not break this module.
/// Runs in its own process: the probe loads YamlDotNet 13 before importing the module.
/// </summary>
public sealed class IsolationTests
{
    [Fact]
    public void ModuleWorksWithADifferentYamlDotNetAlreadyLoaded()
    {
        var probe = Path.Combine(ModuleLayout.RepositoryRoot, "tests", "PostgresSource.IsolationProbe", "bin",
            ModuleLayout.Configuration, "net10.0", "PostgresSource.IsolationProbe.dll");
        Assert.True(File.Exists(probe), "The isolation probe is not built: " + probe);

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(probe);
        start.ArgumentList.Add(ModuleLayout.ManifestPath);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(120_000), "The probe did not finish.");

        Assert.True(process.ExitCode == 0, $"probe failed ({process.ExitCode}):\n{output}\n{error}");
        Assert.Contains("default context YamlDotNet 13.", output);
        Assert.Contains("module context YamlDotNet 18.", output);
        Assert.Contains("imported source: isolated", output);
    }
}
