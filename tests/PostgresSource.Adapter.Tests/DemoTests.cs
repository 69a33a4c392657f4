using System.Diagnostics;
using System.Text.RegularExpressions;
using Npgsql;
using PostgresSource.TestReceivers;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Adapter.Tests;

/// <summary>
/// The main job (docs/demo.md) run exactly as the README says: <c>dotnet pwsh -NoProfile -File examples/Demo/demo.ps1</c>
/// from the repository root, in real pwsh from the local tool manifest, with the module imported by name.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed partial class DemoTests(DatabaseFixture database, ITestOutputHelper output)
{
    private static readonly string[] ExpectedOperations = ["INSERT", "INSERT", "INSERT", "UPDATE", "DELETE"];

    [Fact]
    public async Task TheDemoProvisionsWritesDeliversPrintsAndCleansUp()
    {
        await using var receiver = await CloudEventReceiver.StartAsync();

        var (exitCode, stdout, stderr) = await RunDemoAsync("-Sink", receiver.Url.ToString());

        AssertTheMainJobRan(exitCode, stdout, stderr, receiver);
        // The throwaway server's generated password: the test cannot know it, so it checks that only the module's
        // masked display of the connection appears, and nothing that looks like an unmasked password.
        Assert.Contains("Password=********", stdout);
        var all = stdout + stderr;
        Assert.DoesNotMatch(UnmaskedKeywordPassword(), all);
        Assert.DoesNotMatch(UnmaskedUrlPassword(), all);
    }

    [Fact]
    public async Task TheDemoUsesAGivenDatabaseAndNeverPrintsItsPassword()
    {
        await using var receiver = await CloudEventReceiver.StartAsync();
        var connectionString = await database.CreateDatabaseAsync("demo");
        var password = new NpgsqlConnectionStringBuilder(connectionString).Password;

        var (exitCode, stdout, stderr) = await RunDemoAsync("-Sink", receiver.Url.ToString(), "-ConnectionString", connectionString);

        AssertTheMainJobRan(exitCode, stdout, stderr, receiver);
        Assert.Contains("Using the database given by -ConnectionString", stdout);
        if (!string.IsNullOrEmpty(password))
        {
            Assert.DoesNotContain(password, stdout);
            Assert.DoesNotContain(password, stderr);
        }
        // The demo leaves the database as it found it: no source objects, no sample table.
        Assert.Empty(await TestSql.SourceObjectsAsync(connectionString));
        Assert.False(await TestSql.ScalarAsync<bool>(connectionString, "SELECT to_regclass('public.orders') IS NOT NULL"));
    }

    private void AssertTheMainJobRan(int exitCode, string stdout, string stderr, CloudEventReceiver receiver)
    {
        Assert.True(exitCode == 0, $"exit code {exitCode}\n{stdout}\n{stderr}");
        Assert.Equal(ExpectedOperations, receiver.Accepted.Select(e => (string)e["pgoperation"]!));
        Assert.Equal(5, Regex.Matches(stdout, "^--- CloudEvent ", RegexOptions.Multiline).Count);
        Assert.Contains("\"specversion\": \"1.0\"", stdout);
        Assert.Contains("received 5, delivered 5", stdout);
        Assert.Contains("Cleaning up", stdout);
        Assert.Contains("Removed default/demo-orders", stdout);
    }

    /// <summary>Runs the README's command from the repository root, after <c>dotnet tool restore</c> (which makes pwsh available).</summary>
    private async Task<(int ExitCode, string Stdout, string Stderr)> RunDemoAsync(params string[] arguments)
    {
        var root = RepositoryRoot();
        var restore = await RunAsync(root, ["tool", "restore"], TimeSpan.FromMinutes(3));
        Assert.True(restore.ExitCode == 0, $"dotnet tool restore failed:\n{restore.Stdout}\n{restore.Stderr}");

        var clock = Stopwatch.StartNew();
        var result = await RunAsync(root, ["pwsh", "-NoProfile", "-File", "examples/Demo/demo.ps1", .. arguments], TimeSpan.FromMinutes(3));
        output.WriteLine($"demo exited {result.ExitCode} after {clock.Elapsed.TotalSeconds:0.0} s");
        output.WriteLine(result.Stdout);
        output.WriteLine(result.Stderr);
        return result;
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string directory, IReadOnlyList<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        // A user's fresh shell: the demo must provision its own server, not pick up the tests' one.
        start.Environment.Remove("PGSOURCE_TEST_CONNECTION");
        start.Environment.Remove("PGSOURCE_CONNECTION");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', arguments.Take(4))} did not finish within {timeout}:\n{await stdout}\n{await stderr}");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "PostgresSource.sln")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("Cannot find the repository root.");
    }

    // password=/Password= followed by anything but the module's mask.
    [GeneratedRegex(@"(?i)\b(password|pwd)\s*=\s*(?!\*{8})[^\s;]")]
    private static partial Regex UnmaskedKeywordPassword();

    // scheme://user:secret@host with a secret that is not the mask.
    [GeneratedRegex(@"://[^/\s:@]+:(?!\*{8}@)[^@\s/]+@")]
    private static partial Regex UnmaskedUrlPassword();
}
