using System.Diagnostics;
using System.Text.Json.Nodes;
using Npgsql;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Pester.Tests;

/// <summary>
/// The Pester acceptance suite under real pwsh 7 (tests/pester and examples/), against a throwaway PostgreSQL and
/// the in-process Kubernetes API server: all of it against the built module, then the part tagged "Installed"
/// against the module packed, published to a local PSResourceGet repository and installed with Install-PSResource.
/// Each run's NUnit XML lands in out/test-results/, where .ci/run counts it into the closing line.
/// </summary>
public sealed class PesterSuiteTests(PesterEnvironment environment, ITestOutputHelper output) : IClassFixture<PesterEnvironment>
{
    private static readonly TimeSpan SuiteTimeout = TimeSpan.FromMinutes(15);

    [Fact]
    public async Task TheWholeSuitePassesAgainstTheBuiltModule()
    {
        // Npgsql's Key=Value form: the form the fixture hands out, and the one psql cannot read.
        var connection = await environment.CreateDatabaseAsync("pester_build");
        var results = await RunAsync("build", ["-ModuleSource", "Build", "-ExcludeTag", "Package"], connection);
        Assert.True(results.Passed >= 60, $"only {results.Passed} Pester tests passed; the suite is expected to cover every cmdlet and example");
    }

    [Fact]
    public async Task TheInstalledPartPassesAgainstTheModuleInstalledFromALocalRepository()
    {
        var packages = environment.Pack();
        // A postgres:// URL this time: the suite takes any form the module accepts.
        var connection = PesterEnvironment.ToUrl(await environment.CreateDatabaseAsync("pester_installed"));
        var results = await RunAsync("installed", ["-ModuleSource", "Installed", "-PackageDirectory", packages, "-Tag", "Installed"], connection);
        Assert.True(results.Passed >= 15, $"only {results.Passed} Pester tests ran against the installed module");
    }

    private async Task<PesterResults> RunAsync(string name, string[] arguments, string connection)
    {
        var resultPath = Path.Combine(PwshProcess.RepositoryRoot, "out", "test-results", $"pester-{name}.xml");
        Directory.CreateDirectory(Path.GetDirectoryName(resultPath)!);
        File.Delete(resultPath);
        var clock = Stopwatch.StartNew();
        var (exitCode, log) = await PwshProcess.RunFileAsync("tests/pester/Invoke-PgSourcePester.ps1",
            [.. arguments, "-PesterManifest", PwshProcess.PesterManifest, "-ResultPath", resultPath, "-Verbosity", "Detailed"],
            environment.Variables(connection), SuiteTimeout);
        output.WriteLine($"pwsh exited {exitCode} after {clock.Elapsed.TotalSeconds:0} s");
        output.WriteLine(log);
        Assert.True(File.Exists(resultPath), "Pester wrote no results:\n" + log);
        var results = PesterResults.Read(resultPath);
        Assert.True(results.Failed == 0 && exitCode == 0,
            $"{results.Failed} Pester test(s) failed (exit {exitCode}):\n  {string.Join("\n  ", results.Failures)}\n\n{log}");
        return results;
    }
}

/// <summary>What the suite runs against: one PostgreSQL server, one in-process API server, an isolated pwsh profile.</summary>
public sealed class PesterEnvironment : IAsyncLifetime
{
    private readonly string _home = Directory.CreateTempSubdirectory("pgsource-pester-").FullName;
    private PostgresServer? _server;
    private FakeKubernetesApiServer? _api;
    private string? _kubeconfig;

    public async Task InitializeAsync()
    {
        _server = await PostgresServer.StartAsync();
        _api = new FakeKubernetesApiServer();
        // The seed README's sink: the default Broker in the default namespace, ready with its URL.
        _api.Seed(new JsonObject
        {
            ["apiVersion"] = "eventing.knative.dev/v1",
            ["kind"] = "Broker",
            ["metadata"] = new JsonObject { ["name"] = "default", ["namespace"] = "default" },
            ["status"] = new JsonObject { ["address"] = new JsonObject { ["url"] = "http://broker-ingress.knative-eventing.svc.cluster.local/default/default" } },
        });
        _kubeconfig = _api.WriteKubeconfig(_home);
    }

    public Task<string> CreateDatabaseAsync(string prefix) => _server!.CreateDatabaseAsync(prefix);

    /// <summary>
    /// Environment for pwsh: the database and the API server, and a HOME of its own, so Install-PSResource, the
    /// repository registration and PowerShell's caches never touch the developer's profile. dotnet still finds
    /// the restored tool in the real NuGet cache and keeps its own state in the real home.
    /// </summary>
    public IReadOnlyDictionary<string, string?> Variables(string connection) => new Dictionary<string, string?>
    {
        ["PGSOURCE_TEST_CONNECTION"] = connection,
        ["PGSOURCE_TEST_KUBECONFIG"] = _kubeconfig,
        ["HOME"] = _home,
        ["NUGET_PACKAGES"] = PwshProcess.NuGetPackageRoot,
        ["DOTNET_CLI_HOME"] = Environment.GetEnvironmentVariable("DOTNET_CLI_HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile),
        ["XDG_DATA_HOME"] = null,
        ["XDG_CONFIG_HOME"] = null,
        ["XDG_CACHE_HOME"] = null,
        ["POWERSHELL_TELEMETRY_OPTOUT"] = "1",
        ["POWERSHELL_UPDATECHECK"] = "Off",
    };

    /// <summary>dotnet pack of the module (the package a user gets from the Gallery) into a folder used as a repository.</summary>
    public string Pack()
    {
        var folder = Path.Combine(_home, "repository");
        Directory.CreateDirectory(folder);
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = PwshProcess.RepositoryRoot, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "pack", "src/PostgresSource.PowerShell/PostgresSource.PowerShell.csproj", "--no-build", "-c", configuration, "-o", folder })
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var log = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, "dotnet pack failed:\n" + log);
        return folder;
    }

    /// <summary>The same database as a postgres:// URL (user and password percent-encoded).</summary>
    public static string ToUrl(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var credentials = Uri.EscapeDataString(builder.Username!) + (string.IsNullOrEmpty(builder.Password) ? string.Empty : ":" + Uri.EscapeDataString(builder.Password));
        return $"postgres://{credentials}@{builder.Host}:{builder.Port}/{Uri.EscapeDataString(builder.Database!)}";
    }

    public async Task DisposeAsync()
    {
        _api?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        try
        {
            Directory.Delete(_home, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a process that is exiting; the temp folder is cleaned later.
        }
    }
}
