using PostgresSource.Core.Diagnostics;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Adapter.Tests;

/// <summary>A core error with a remedy reaches the adapter's log with the adapter's own advice (variables, not cmdlet parameters).</summary>
[Collection(DatabaseCollection.Name)]
public sealed class AdapterRemedyTests(DatabaseFixture database, ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public void EveryRemedyTheAdapterMeetsHasAdapterAdvice() =>
        Assert.All(AdapterAdvice.Handled, remedy => Assert.False(string.IsNullOrWhiteSpace(AdapterAdvice.For(remedy)), remedy.ToString()));

    [Fact]
    public async Task ASourceInstalledInAnotherModeFailsTheInstallWithAdviceInVariablesAndChangesNothing()
    {
        var db = await database.CreateDatabaseAsync("r");
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY)");
        Dictionary<string, string> Environment(string mode) => new()
        {
            ["K_SINK"] = "http://127.0.0.1:9/",
            ["NAME"] = "remedy",
            ["PGSOURCE_UID"] = "0b9c3f0e-1111-4222-8333-944445555666",
            ["PGSOURCE_TABLES"] = "orders",
            ["PGSOURCE_MODE"] = mode,
            ["PGSOURCE_CONNECTION"] = db,
            ["PGSOURCE_HTTP_PORT"] = AdapterProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        await using (var notify = AdapterProcess.Start(Environment("Notify")))
        {
            await notify.WaitForLogAsync(l => l.GetProperty("msg").GetString() == "listening", Patience);
            notify.SendSigterm();
            Assert.Equal(0, await notify.WaitForExitAsync(Patience));
        }
        var before = await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal");

        await using var durable = AdapterProcess.Start(Environment("Durable"));
        Assert.Equal(1, await durable.WaitForExitAsync(Patience));
        var failed = Assert.Single(durable.Logs, l => l.GetProperty("msg").GetString() == "install failed");
        output.WriteLine(failed.ToString());
        Assert.Contains("Switching modes is explicit", failed.GetProperty("error").GetString());
        var remedy = failed.GetProperty("remedy").GetString();
        Assert.Equal(AdapterAdvice.For(Remedy.SwitchMode), remedy);
        Assert.Contains("PGSOURCE_MODE", remedy);
        // Nothing was changed: the Notify trigger is still the only one, and no journal exists.
        Assert.Equal(before, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal"));
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_class WHERE relname LIKE '%journal%'"));
    }
}
