using System.Collections;
using PostgresSource.TestSupport;

namespace PostgresSource.PowerShell.Tests;

/// <summary>Get-PgSourceTrigger lists sources of every mode, with what matters for each: the journal backlog, the slot's state.</summary>
[Collection(DatabaseCollection.Name)]
public sealed class GetPgSourceTriggerModesTests(DatabaseFixture database)
{
    [Fact]
    public async Task ListsNotifyDurableAndLogicalSourcesFiltersByNameAndForgetsThemAfterUninstall()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE bells (id int PRIMARY KEY); CREATE TABLE ledger (id int PRIMARY KEY); CREATE TABLE stream (id int PRIMARY KEY)");
        using var ps = PowerShellSession.Open();
        var vars = new Hashtable { ["cs"] = db };
        var installed = ps.Run("""
            New-PgSource -Name bell -Table bells -ConnectionString $cs | Install-PgSourceTrigger -Confirm:$false
            New-PgSource -Name book -Table ledger -Mode Durable -ConnectionString $cs | Install-PgSourceTrigger -Confirm:$false
            New-PgSource -Name river -Table stream -Mode Logical -ConnectionString $cs | Install-PgSourceTrigger -Confirm:$false
            """, vars);
        Assert.Empty(installed.Errors);
        await TestSql.ExecuteAsync(db, "INSERT INTO ledger VALUES (1), (2); INSERT INTO stream VALUES (1)");

        var listed = ps.Run("Get-PgSourceTrigger -ConnectionString $cs", vars);
        Assert.Empty(listed.Errors);
        Assert.Equal(["bell", "book", "river"], listed.Output.Select(r => (string)r.Properties["SourceName"].Value));
        Assert.Equal(["Notify", "Durable", "Logical"], listed.Output.Select(r => r.Properties["Mode"].Value.ToString()));
        Assert.Equal(["bells", "ledger", "stream"], listed.Output.Select(r => (string)r.Properties["Table"].Value));
        Assert.All(listed.Output, r => Assert.Equal(true, r.Properties["Enabled"].Value));

        var book = listed.Output[1];
        Assert.Equal(2L, book.Properties["JournalBacklog"].Value);
        Assert.Equal(true, book.Properties["TriggerPresent"].Value);
        Assert.Equal("Durable", book.Properties["Flavor"].Value);
        Assert.Equal(false, book.Properties["SlotPresent"].Value);

        var river = listed.Output[2];
        Assert.Equal(true, river.Properties["SlotPresent"].Value);
        Assert.Equal(false, river.Properties["SlotActive"].Value);
        Assert.False(string.IsNullOrEmpty((string?)river.Properties["ConfirmedFlushLsn"].Value));
        Assert.True((long)river.Properties["RetainedWalBytes"].Value > 0);
        Assert.Equal(false, river.Properties["TriggerPresent"].Value);
        Assert.Null(river.Properties["JournalBacklog"].Value);

        var filtered = ps.Run("Get-PgSourceTrigger -ConnectionString $cs -Name b*k", vars);
        Assert.Equal("book", Assert.Single(filtered.Output).Properties["SourceName"].Value);
        var bySource = ps.Run("New-PgSource -Name river -Table stream -Mode Logical -ConnectionString $cs | Get-PgSourceTrigger", vars);
        Assert.Equal("Logical", Assert.Single(bySource.Output).Properties["Mode"].Value.ToString());

        // The table view shows the mode and, per mode, what waits: journal rows, or WAL held by the slot.
        var shown = ps.Run("Get-PgSourceTrigger -ConnectionString $cs | Out-Host", vars);
        Assert.Empty(shown.Errors);
        Assert.Contains("Backlog", ps.HostText);
        Assert.Contains("2 changes", ps.HostText);
        Assert.Matches(@"river\s+Logical\s+public\s+stream\s+True\s+INSERT,UPDATE,DELETE,TRUNCATE\s+Logical\s+[\d.,]+ [kMG]B WAL, idle", ps.HostText);

        var removed = ps.Run("Get-PgSourceTrigger -ConnectionString $cs | Uninstall-PgSourceTrigger -ConnectionString $cs -Confirm:$false", vars);
        Assert.Empty(removed.Errors);
        Assert.All(removed.Output, r => Assert.Equal("Removed", r.Properties["Status"].Value));
        Assert.Empty(ps.Run("Get-PgSourceTrigger -ConnectionString $cs", vars).Output);
        Assert.Empty(await TestSql.SourceObjectsAsync(db));
    }
}
