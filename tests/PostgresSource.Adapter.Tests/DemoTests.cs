using System.Diagnostics;
using PostgresSource.TestReceivers;
using Xunit.Abstractions;

namespace PostgresSource.Adapter.Tests;

/// <summary>The one-command demo (docs/demo.md) run as a user runs it: its own throwaway server, events to the console and to a sink.</summary>
public sealed class DemoTests(ITestOutputHelper output)
{
    [Fact]
    public async Task TheDemoProvisionsWritesDeliversPrintsAndCleansUp()
    {
        await using var receiver = await CloudEventReceiver.StartAsync();
        var demo = DemoPath();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(demo);
        start.ArgumentList.Add("--sink");
        start.ArgumentList.Add(receiver.Url.ToString());
        start.Environment.Remove("PGSOURCE_TEST_CONNECTION");
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        var text = await stdout;
        output.WriteLine($"demo exited {process.ExitCode} after {clock.Elapsed.TotalSeconds:0.0} s");

        Assert.True(process.ExitCode == 0, text + await stderr);
        Assert.Equal(5, receiver.Accepted.Count);
        Assert.Equal(["INSERT", "INSERT", "INSERT", "UPDATE", "DELETE"], receiver.Accepted.Select(e => (string)e["pgoperation"]!));
        Assert.Equal(5, text.Split("--- CloudEvent ").Length - 1);
        Assert.Contains("\"specversion\": \"1.0\"", text);
        Assert.Contains("received 5, delivered 5", text);
        Assert.Contains("Cleaning up", text);
        Assert.DoesNotContain("Password=", text.Replace("Password=********", string.Empty));
    }

    private static string DemoPath()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "PostgresSource.sln")))
            {
                return Path.Combine(directory.FullName, "examples", "Demo", "bin", configuration, "net10.0", "PostgresSource.Demo.dll");
            }
        }
        throw new InvalidOperationException("Cannot find the repository root.");
    }
}
