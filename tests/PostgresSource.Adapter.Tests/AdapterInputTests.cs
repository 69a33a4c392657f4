using Xunit.Abstractions;

namespace PostgresSource.Adapter.Tests;

/// <summary>Inputs that name database objects are refused at start, before the adapter touches the database.</summary>
public sealed class AdapterInputTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("urn:uuid:d049318d-72c6-45e3-b8be-b0d4a38e82ad")]
    [InlineData("d049318d-72c6-45e3-b8be")]
    public async Task ABadUidIsAConfigurationErrorNamingTheVariableAndTheForm(string uid)
    {
        await using var adapter = AdapterProcess.Start(new Dictionary<string, string>
        {
            ["NAME"] = "shop",
            ["PGSOURCE_UID"] = uid,
            ["K_SINK"] = "http://127.0.0.1:9/",
            ["PGSOURCE_TABLES"] = "orders",
            // Never reached: the configuration is refused first.
            ["PGSOURCE_CONNECTION"] = "Host=127.0.0.1;Port=9;Username=u;Password=p;Database=d",
            ["PGSOURCE_HTTP_PORT"] = AdapterProcess.FreePort().ToString(),
        });
        Assert.Equal(2, await adapter.WaitForExitAsync(Patience));
        var line = Assert.Single(adapter.Stderr);
        Assert.Equal($"pgsource-adapter: configuration error: PGSOURCE_UID: The UID '{uid}' is not valid: " +
            "expected 8-4-4-4-12 hexadecimal digits, as Kubernetes writes it: 01234567-89ab-cdef-0123-456789abcdef.", line);
        output.WriteLine(line);
    }

    [Fact]
    public async Task ARemoteUnverifiedDatabaseIsAWarningAtStartAndAMissingRootCertAConfigurationError()
    {
        var environment = new Dictionary<string, string>
        {
            ["NAME"] = "shop",
            ["K_SINK"] = "http://127.0.0.1:9/",
            ["PGSOURCE_TABLES"] = "orders",
            ["PGSOURCE_CONNECTION"] = "Host=db.invalid;Port=9;Username=u;Password=secret-pw;Database=d;Timeout=1",
            ["PGSOURCE_HTTP_PORT"] = AdapterProcess.FreePort().ToString(),
        };
        await using (var adapter = AdapterProcess.Start(environment))
        {
            var warning = await adapter.WaitForLogAsync(l => l.GetProperty("level").GetString() == "warn" &&
                l.GetProperty("msg").GetString()!.Contains("identity is not verified"), Patience);
            Assert.Contains("verify-full", warning.GetProperty("msg").GetString());
            Assert.DoesNotContain("secret-pw", string.Join("\n", adapter.Stdout.Concat(adapter.Stderr)));
        }

        environment["PGSOURCE_DB_ROOT_CERT"] = "/nonexistent/ca.crt";
        await using var refused = AdapterProcess.Start(environment);
        Assert.Equal(2, await refused.WaitForExitAsync(Patience));
        Assert.Equal("pgsource-adapter: configuration error: PGSOURCE_DB_ROOT_CERT: the file '/nonexistent/ca.crt' does not exist.", Assert.Single(refused.Stderr));
    }
}
