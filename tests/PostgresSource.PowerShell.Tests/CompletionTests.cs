using System.Collections;
using PostgresSource.TestSupport;

namespace PostgresSource.PowerShell.Tests;

[Collection(DatabaseCollection.Name)]
public sealed class CompletionTests(DatabaseFixture database)
{
    private static IReadOnlyList<string> Complete(PowerShellSession ps, string line, string connectionString) =>
        ps.Run("(TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches | ForEach-Object CompletionText",
                new Hashtable { ["line"] = line.Replace("$cs", "'" + connectionString + "'") })
            .Output.Select(o => o.ToString()).ToList();

    [Fact]
    public async Task TableCompletesRealTableNames()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int); CREATE TABLE order_lines (id int); CREATE TABLE items (id int); CREATE SCHEMA sales; CREATE TABLE sales.\"Order Archive\" (id int)");
        using var ps = PowerShellSession.Open();

        Assert.Equal(["order_lines", "orders"], Complete(ps, "New-PgSource -Name x -ConnectionString $cs -Table ord", db).Order());
        Assert.Equal(["'sales.\"Order Archive\"'"], Complete(ps, "New-PgSource -Name x -ConnectionString $cs -Table sales.", db));
    }

    [Fact]
    public async Task NameCompletesInstalledSources()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int)");
        using var ps = PowerShellSession.Open();
        ps.Run("'billing', 'bookings', 'other' | ForEach-Object { New-PgSource -Name $_ -Table orders -ConnectionString $cs | Install-PgSourceTrigger -Confirm:$false }", new Hashtable { ["cs"] = db });

        Assert.Equal(["billing", "bookings"], Complete(ps, "Get-PgSourceTrigger -ConnectionString $cs -Name b", db));
        Assert.Equal(["other"], Complete(ps, "Uninstall-PgSourceTrigger -ConnectionString $cs -Name o", db));
    }

    [Fact]
    public void UnreachableDatabaseGivesNoCompletionsAndNoError()
    {
        using var ps = PowerShellSession.Open();
        var started = DateTime.UtcNow;
        Assert.Empty(Complete(ps, "New-PgSource -Name x -ConnectionString $cs -Table ord", "Host=127.0.0.1;Port=1;Username=u;Password=p"));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));
    }
}
