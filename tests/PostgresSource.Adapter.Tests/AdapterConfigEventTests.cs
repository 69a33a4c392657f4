using Xunit.Abstractions;

namespace PostgresSource.Adapter.Tests;

/// <summary>
/// What goes into every event is checked when the adapter starts, with or without installing: a value no
/// CloudEvent can carry is one configuration error line naming the variable, not a failure of every event.
/// </summary>
public sealed class AdapterConfigEventTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static Dictionary<string, string> Environment(string install) => new()
    {
        ["NAME"] = "shop",
        ["K_SINK"] = "http://127.0.0.1:9/",
        ["PGSOURCE_TABLES"] = "orders",
        ["PGSOURCE_INSTALL"] = install,
        // Never reached: the configuration is refused first.
        ["PGSOURCE_CONNECTION"] = "Host=127.0.0.1;Port=9;Username=u;Password=p;Database=d",
        ["PGSOURCE_HTTP_PORT"] = AdapterProcess.FreePort().ToString(),
    };

    [Theory]
    [InlineData("true", "PGSOURCE_EVENT_TYPE", "dev.vaikas\tpostgres",
        "PGSOURCE_EVENT_TYPE: The event type is not usable: 'dev.vaikas%09postgres' contains U+0009, a control character, at position 11.")]
    [InlineData("false", "PGSOURCE_EVENT_TYPE", "dev.vaikas\u0085postgres",
        "PGSOURCE_EVENT_TYPE: The event type is not usable: 'dev.vaikas%C2%85postgres' contains U+0085, a control character, at position 11.")]
    [InlineData("false", "K_CE_OVERRIDES", """{"extensions": {"team": "bill\ning"}}""",
        "K_CE_OVERRIDES: the value of extension 'team' is not allowed in a CloudEvent: 'bill%0Aing' contains U+000A, a control character, at position 5")]
    public async Task AValueNoEventCanCarryIsAConfigurationErrorAtStart(string install, string variable, string value, string expected)
    {
        var environment = Environment(install);
        environment[variable] = value;
        await using var adapter = AdapterProcess.Start(environment);
        Assert.Equal(2, await adapter.WaitForExitAsync(Patience));
        var line = Assert.Single(adapter.Stderr);
        Assert.Equal("pgsource-adapter: configuration error: " + expected, line);
        output.WriteLine(line);
    }
}
