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
}
