using System.Collections;
using System.Management.Automation;
using Npgsql;
using PostgresSource.TestSupport;

namespace PostgresSource.PowerShell.Tests;

/// <summary>The foundation's flows, run through the built module as a user would.</summary>
[Collection(DatabaseCollection.Name)]
public sealed class CmdletFlowTests(DatabaseFixture database)
{
    private const string Uid = "d049318d-72c6-45e3-b8be-b0d4a38e82ad";
    private const string SeedName = "postgressource_mypostgres_d049318d_72c6_45e3_b8be_b0d4a38e82ad";

    private static Hashtable Vars(string connectionString) => new() { ["cs"] = connectionString, ["uid"] = Uid };

    [Fact]
    public async Task NewInstallGetUninstallThroughThePipeline()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY, qty int); CREATE SCHEMA sales; CREATE TABLE sales.\"Big Orders\" (id int)");
        using var ps = PowerShellSession.Open();

        var installed = ps.Run("New-PgSource -Name mypostgres -Uid $uid -Table orders,'sales.\"Big Orders\"' -ConnectionString $cs | Install-PgSourceTrigger -Confirm:$false", Vars(db));
        Assert.Empty(installed.Errors);
        var result = installed.Output.Single();
        Assert.Equal("Installed", result.Properties["Status"].Value);
        Assert.Equal(true, result.Properties["Changed"].Value);
        // Two tables, each with the row trigger (the seed's name) and the TRUNCATE trigger (named by the same rule).
        var objects = await TestSql.SourceObjectsAsync(db);
        Assert.Equal(5, objects.Count);
        Assert.Equal(1, objects.Count(o => o == "function " + SeedName));
        Assert.Equal(2, objects.Count(o => o == "trigger " + SeedName));
        Assert.Equal(2, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'postgressource%' AND tgtype::int & 32 <> 0"));

        var again = ps.Run("New-PgSource -Name mypostgres -Uid $uid -Table orders,'sales.\"Big Orders\"' -ConnectionString $cs | Install-PgSourceTrigger -Confirm:$false", Vars(db));
        Assert.Equal("Unchanged", again.Output.Single().Properties["Status"].Value);
        Assert.Equal(false, again.Output.Single().Properties["Changed"].Value);

        var listed = ps.Run("Get-PgSourceTrigger -ConnectionString $cs -Name mypostgres", Vars(db));
        Assert.Empty(listed.Errors);
        Assert.Equal(2, listed.Output.Count);
        Assert.All(listed.Output, row =>
        {
            Assert.Equal("mypostgres", row.Properties["SourceName"].Value);
            Assert.Equal(true, row.Properties["TriggerPresent"].Value);
            Assert.Equal(new[] { "INSERT", "UPDATE", "DELETE", "TRUNCATE" }, (string[])row.Properties["Operations"].Value);
        });
        Assert.Contains(listed.Output, row => (string)row.Properties["Table"].Value == "Big Orders" && (string)row.Properties["Schema"].Value == "sales");

        var removed = ps.Run("Get-PgSourceTrigger -ConnectionString $cs | Uninstall-PgSourceTrigger -ConnectionString $cs -Confirm:$false", Vars(db));
        Assert.Empty(removed.Errors);
        Assert.Equal("Removed", removed.Output[0].Properties["Status"].Value);
        Assert.Equal("Absent", removed.Output[1].Properties["Status"].Value);
        Assert.Empty(await TestSql.SourceObjectsAsync(db));
    }

    [Fact]
    public async Task PassThruChainsAndWhatIfChangesNothing()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int)");
        using var ps = PowerShellSession.Open();

        var whatIf = ps.Run("New-PgSource -Name mypostgres -Uid $uid -Table orders -ConnectionString $cs | Install-PgSourceTrigger -WhatIf", Vars(db));
        Assert.Equal("Skipped", whatIf.Output.Single().Properties["Status"].Value);
        Assert.Empty(await TestSql.SourceObjectsAsync(db));

        var chained = ps.Run("New-PgSource -Name mypostgres -Uid $uid -Table orders -ConnectionString $cs | Install-PgSourceTrigger -PassThru -Confirm:$false | Get-PgSourceTrigger", Vars(db));
        Assert.Empty(chained.Errors);
        Assert.Equal(true, chained.Output.Single().Properties["TriggerPresent"].Value);

        var uninstallWhatIf = ps.Run("New-PgSource -Name mypostgres -Uid $uid -Table orders -ConnectionString $cs | Uninstall-PgSourceTrigger -WhatIf", Vars(db));
        Assert.Equal("Skipped", uninstallWhatIf.Output.Single().Properties["Status"].Value);
        Assert.Equal(3, (await TestSql.SourceObjectsAsync(db)).Count); // function, row and TRUNCATE trigger
    }

    [Fact]
    public async Task AnotherRolesObjectIsRefusedWithNotOwnerUntilTakenOver()
    {
        var db = await database.CreateDatabaseAsync();
        var squatter = "squatter_" + Guid.NewGuid().ToString("N")[..8];
        await TestSql.ExecuteAsync(db, $"CREATE TABLE orders (id int PRIMARY KEY); CREATE ROLE {squatter} NOLOGIN; " +
            $"CREATE FUNCTION public.postgressource_squat() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RETURN NULL; END $f$; " +
            $"ALTER FUNCTION public.postgressource_squat() OWNER TO {squatter}");
        using var ps = PowerShellSession.Open();

        var refused = ps.Run("""
            try { New-PgSource -Name squat -Table orders -ConnectionString $cs | Install-PgSourceTrigger -Confirm:$false -ErrorAction Stop; 'installed' }
            catch { $_.FullyQualifiedErrorId; $_.CategoryInfo.Category.ToString(); $_.Exception.Message }
            """, Vars(db));
        Assert.Equal("PgSource.NotOwner,PostgresSource.PowerShell.Cmdlets.InstallPgSourceTriggerCommand", refused.Output[0].BaseObject);
        Assert.Equal("PermissionDenied", refused.Output[1].BaseObject);
        Assert.Contains($"owner {squatter}", (string)refused.Output[2].BaseObject);
        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'orders'::regclass"));

        var taken = ps.Run("New-PgSource -Name squat -Table orders -ConnectionString $cs | Install-PgSourceTrigger -TakeOver -Confirm:$false", Vars(db));
        Assert.Empty(taken.Errors);
        var changes = (string[])Assert.Single(taken.Output).Properties["Changes"].Value;
        Assert.Contains(changes, c => c.StartsWith("take over", StringComparison.Ordinal) && c.Contains($"owned by role {squatter}", StringComparison.Ordinal));
        Assert.Equal(new NpgsqlConnectionStringBuilder(db).Username, await TestSql.ScalarAsync<string>(db,
            "SELECT pg_get_userbyid(proowner)::text FROM pg_proc WHERE proname = 'postgressource_squat'"));
        Assert.Equal(2L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'orders'::regclass"));
    }

    [Fact]
    public async Task MissingAndHostileTablesAreErrorRecordsAndChangeNothing()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int); CREATE TABLE x (id int)");
        using var ps = PowerShellSession.Open();

        var result = ps.Run("""
            $a = New-PgSource -Name a -Table orders,nosuch -ConnectionString $cs
            $b = New-PgSource -Name b -Table 'orders"; DROP TABLE x; --' -ConnectionString $cs
            $c = New-PgSource -Name c -Table orders -ConnectionString $cs
            $a, $b, $c | Install-PgSourceTrigger -Confirm:$false
            """, Vars(db));

        Assert.Equal(2, result.Errors.Count);
        Assert.All(result.Errors, e =>
        {
            Assert.Equal("PgSource.TableNotFound,PostgresSource.PowerShell.Cmdlets.InstallPgSourceTriggerCommand", e.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.ObjectNotFound, e.CategoryInfo.Category);
            Assert.NotNull(e.ErrorDetails?.RecommendedAction);
        });
        Assert.Equal("default/a", result.Errors[0].TargetObject.ToString());
        Assert.Contains("'nosuch'", result.Errors[0].Exception.Message);
        Assert.Equal("default/b", result.Errors[1].TargetObject.ToString());
        // The third source still went in: one bad item does not stop the rest.
        Assert.Equal("Installed", Assert.Single(result.Output).Properties["Status"].Value);
        Assert.Equal(["function postgressource_c", "trigger postgressource_c", "trigger postgressource_c_truncate"], await TestSql.SourceObjectsAsync(db));
        Assert.Equal(1L, await TestSql.ScalarAsync<long>(db, "SELECT count(*) FROM pg_class WHERE relname = 'x'"));
    }

    [Fact]
    public void BadInputGivesStableIds()
    {
        using var ps = PowerShellSession.Open();
        var badName = ps.Run("New-PgSource -Name 'Bad_Name' -Table orders");
        Assert.Equal("PgSource.InvalidSource,PostgresSource.PowerShell.Cmdlets.NewPgSourceCommand", Assert.Single(badName.Errors).FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidArgument, badName.Errors[0].CategoryInfo.Category);
        Assert.Equal("Bad_Name", badName.Errors[0].TargetObject);

        var badConnection = ps.Run("New-PgSource -Name ok -Table orders -ConnectionString 'Host=h;Password=TopSecret99;Nonsense=1'");
        Assert.Equal("PgSource.InvalidConnectionString,PostgresSource.PowerShell.Cmdlets.NewPgSourceCommand", Assert.Single(badConnection.Errors).FullyQualifiedErrorId);
        Assert.DoesNotContain("TopSecret99", PowerShellSession.AllText(badConnection));
    }

    [Fact]
    public async Task PasswordNeverAppearsInOutputErrorsVerboseOrScript()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int)");
        var password = new NpgsqlConnectionStringBuilder(db).Password!;
        using var ps = PowerShellSession.Open();

        var result = ps.Run("""
            $s = New-PgSource -Name mypostgres -Table orders,nosuch -ConnectionString $cs
            $s
            $s | Out-Host
            $s | Install-PgSourceTrigger -Script
            $s | Install-PgSourceTrigger -Confirm:$false -Verbose
            New-PgSource -Name ok -Table orders -ConnectionString $cs | Install-PgSourceTrigger -Confirm:$false -Verbose
            Test-PgSourceConnection -ConnectionString $cs -Detailed -Verbose
            Test-PgSourceConnection -ConnectionString ($cs -replace 'Port=\d+', 'Port=1') -Detailed -Verbose
            """, Vars(db));
        Assert.Null(result.Terminating);
        Assert.NotEmpty(result.Verbose);
        var text = PowerShellSession.AllText(result) + ps.HostText;
        Assert.Contains("Password=********", ps.HostText);
        Assert.DoesNotContain(password, text);
        Assert.Contains("CREATE OR REPLACE FUNCTION", text);
    }

    [Fact]
    public async Task TestConnectionReturnsBooleansAndReasons()
    {
        var db = await database.CreateDatabaseAsync();
        using var ps = PowerShellSession.Open();
        Assert.True(ps.Run("Test-PgSourceConnection -ConnectionString $cs", Vars(db)).Single<bool>());

        var wrongPassword = new NpgsqlConnectionStringBuilder(db) { Password = "wrong" }.ConnectionString;
        var failed = ps.Run("Test-PgSourceConnection -ConnectionString $cs -Verbose", Vars(wrongPassword));
        Assert.False(failed.Single<bool>());
        Assert.Empty(failed.Errors);
        Assert.Contains(failed.Verbose, v => v.Contains("Authentication"));

        var detailed = ps.Run("Test-PgSourceConnection -ConnectionString $cs -Detailed", Vars(db)).Output.Single();
        Assert.Equal("logical", detailed.Properties["WalLevel"].Value);
        Assert.Equal(true, detailed.Properties["CanReplicate"].Value);
    }

    [Fact]
    public async Task ConnectionComesFromTheEnvironmentWhenNotGiven()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int)");
        var previous = Environment.GetEnvironmentVariable("PGSOURCE_CONNECTION");
        Environment.SetEnvironmentVariable("PGSOURCE_CONNECTION", db);
        try
        {
            using var ps = PowerShellSession.Open();
            var result = ps.Run("New-PgSource -Name envsource -Table orders | Install-PgSourceTrigger -Confirm:$false");
            Assert.Empty(result.Errors);
            Assert.Equal(["function postgressource_envsource", "trigger postgressource_envsource", "trigger postgressource_envsource_truncate"], await TestSql.SourceObjectsAsync(db));
            Assert.True(ps.Run("Test-PgSourceConnection").Single<bool>());
        }
        finally
        {
            Environment.SetEnvironmentVariable("PGSOURCE_CONNECTION", previous);
        }
    }

    [Fact]
    public void NoConnectionAnywhereIsAClearError()
    {
        var saved = new[] { "PGSOURCE_CONNECTION", "PGHOST", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGPORT" }
            .ToDictionary(v => v, Environment.GetEnvironmentVariable);
        foreach (var name in saved.Keys)
        {
            Environment.SetEnvironmentVariable(name, null);
        }
        try
        {
            using var ps = PowerShellSession.Open();
            var result = ps.Run("New-PgSource -Name s -Table orders | Install-PgSourceTrigger -Confirm:$false");
            var error = Assert.Single(result.Errors);
            Assert.StartsWith("PgSource.NoConnection,", error.FullyQualifiedErrorId);
            Assert.Contains("PGSOURCE_CONNECTION", error.Exception.Message);
            Assert.StartsWith("No database connection was given", error.Exception.Message);
            Assert.Contains("-ConnectionString", error.ErrorDetails?.RecommendedAction);
        }
        finally
        {
            foreach (var (name, value) in saved)
            {
                Environment.SetEnvironmentVariable(name, value);
            }
        }
    }
}
