using System.Collections;
using System.Management.Automation;
using PostgresSource.TestSupport;

namespace PostgresSource.PowerShell.Tests;

/// <summary>Durable and Logical mode through the cmdlets: install, listen, explicit mode switch, uninstall.</summary>
[Collection(DatabaseCollection.Name)]
public sealed class CaptureModeTests(DatabaseFixture database)
{
    [Theory]
    [InlineData("Durable")]
    [InlineData("Logical")]
    public async Task InstallListenAndUninstallInMode(string mode)
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY, qty int); INSERT INTO orders VALUES (1, 10), (2, 20)");
        using var ps = PowerShellSession.Open();
        var vars = new Hashtable { ["cs"] = db, ["mode"] = mode };

        var installed = ps.Run("New-PgSource -Name modal -Table orders -Mode $mode -ConnectionString $cs | Install-PgSourceTrigger -ReplicaIdentityFull -Confirm:$false", vars);
        Assert.Empty(installed.Errors);
        Assert.Equal("Installed", installed.Output.Single().Properties["Status"].Value);
        var again = ps.Run("New-PgSource -Name modal -Table orders -Mode $mode -ConnectionString $cs | Install-PgSourceTrigger -ReplicaIdentityFull -Confirm:$false", vars);
        Assert.Equal("Unchanged", again.Output.Single().Properties["Status"].Value);

        // Rows written while no listener runs are not lost in the at-least-once modes.
        await TestSql.ExecuteAsync(db, "INSERT INTO orders VALUES (3, 30); UPDATE orders SET qty = 31 WHERE id = 3; DELETE FROM orders WHERE id = 1");
        var events = ps.Run("New-PgSource -Name modal -Table orders -Mode $mode -ConnectionString $cs | Start-PgSourceListener -MaxEvents 3 -Timeout 30", vars);
        Assert.Empty(events.Errors);
        Assert.Equal(["INSERT", "UPDATE", "DELETE"], events.Output.Select(e => e.Properties["Operation"].Value.ToString()));
        Assert.All(events.Output, e => Assert.Equal("public.orders", e.Properties["Subject"].Value));

        // Acknowledged: a second listener does not see them again.
        await TestSql.ExecuteAsync(db, "INSERT INTO orders VALUES (4, 40)");
        var next = ps.Run("New-PgSource -Name modal -Table orders -Mode $mode -ConnectionString $cs | Start-PgSourceListener -MaxEvents 1 -Timeout 30", vars);
        Assert.Equal("INSERT", next.Output.Single().Properties["Operation"].Value.ToString());

        var removed = ps.Run("New-PgSource -Name modal -Table orders -Mode $mode -ConnectionString $cs | Uninstall-PgSourceTrigger -Confirm:$false", vars);
        Assert.Empty(removed.Errors);
        Assert.Equal("Removed", removed.Output.Single().Properties["Status"].Value);
        Assert.Empty(await TestSql.SourceObjectsAsync(db));
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'postgressource%' AND database = current_database()"));
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_publication WHERE pubname LIKE 'postgressource%'"));
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'postgressource%'"));
    }

    [Fact]
    public async Task SwitchingModeIsExplicitAndSaysWhatItDrops()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY)");
        using var ps = PowerShellSession.Open();
        var vars = new Hashtable { ["cs"] = db };
        ps.Run("New-PgSource -Name switcher -Table orders -Mode Durable -ConnectionString $cs | Install-PgSourceTrigger -Confirm:$false", vars);
        await TestSql.ExecuteAsync(db, "INSERT INTO orders VALUES (1), (2)");

        var refused = ps.Run("New-PgSource -Name switcher -Table orders -Mode Notify -ConnectionString $cs | Install-PgSourceTrigger -Confirm:$false", vars);
        var error = Assert.Single(refused.Errors);
        Assert.StartsWith("PgSource.ModeConflict,", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ResourceExists, error.CategoryInfo.Category);
        Assert.Contains("Switching modes is explicit and was not asked for", error.Exception.Message);
        Assert.Contains("-SwitchMode", error.ErrorDetails?.RecommendedAction);
        Assert.DoesNotContain(await TestSql.SourceObjectsAsync(db), o => o == "function postgressource_switcher");

        var whatIf = ps.Run("New-PgSource -Name switcher -Table orders -Mode Notify -ConnectionString $cs | Install-PgSourceTrigger -SwitchMode -WhatIf", vars);
        Assert.Equal("Skipped", whatIf.Output.Single().Properties["Status"].Value);
        Assert.Contains(whatIf.Warnings, w => w.Contains("2 change(s)"));

        var switched = ps.Run("New-PgSource -Name switcher -Table orders -Mode Notify -ConnectionString $cs | Install-PgSourceTrigger -SwitchMode -Confirm:$false", vars);
        Assert.Empty(switched.Errors);
        Assert.Contains(switched.Warnings, w => w.Contains("from Durable to Notify"));
        Assert.Equal(["function postgressource_switcher", "trigger postgressource_switcher", "trigger postgressource_switcher_truncate"], await TestSql.SourceObjectsAsync(db));
    }
}
