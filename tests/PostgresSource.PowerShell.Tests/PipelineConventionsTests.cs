using System.Collections;
using System.Management.Automation;
using System.Security;
using System.Text.RegularExpressions;
using Npgsql;
using PostgresSource.TestSupport;

namespace PostgresSource.PowerShell.Tests;

/// <summary>
/// The conventions users script against (issue 14, item 5): objects carry their database and piping them acts there,
/// -ConnectionString and New-PgSource bind by property name (Import-Csv), -Credential, -Debug's SQL, High-impact
/// confirmation, -PassThru after a skipped change.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class PipelineConventionsTests(DatabaseFixture database)
{
    private static string DatabaseName(string connectionString) => new NpgsqlConnectionStringBuilder(connectionString).Database!;

    private static string Password(string connectionString) => new NpgsqlConnectionStringBuilder(connectionString).Password!;

    private static async Task<string> DatabaseWithSourceAsync(DatabaseFixture fixture, PowerShellSession ps)
    {
        var db = await fixture.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY)");
        Assert.Empty(ps.Run("New-PgSource -Name mypostgres -Table orders -ConnectionString $cs | Install-PgSourceTrigger -Confirm:$false",
            new Hashtable { ["cs"] = db }).Errors);
        return db;
    }

    /// <summary>Every way an object can be shown or serialized, for "the password is not there".</summary>
    private static string Serialized(PowerShellSession.Result result) =>
        string.Join('\n', result.Output.Select(o => PSSerializer.Serialize(o, depth: 3)));

    [Fact]
    public async Task PipedRowsActOnTheDatabaseTheyCameFromNotTheEnvironments()
    {
        using var ps = PowerShellSession.Open();
        var a = await DatabaseWithSourceAsync(database, ps);
        var b = await DatabaseWithSourceAsync(database, ps);
        var vars = new Hashtable { ["a"] = a, ["b"] = b };
        var previous = Environment.GetEnvironmentVariable("PGSOURCE_CONNECTION");
        Environment.SetEnvironmentVariable("PGSOURCE_CONNECTION", a);
        try
        {
            var listed = ps.Run("Get-PgSourceTrigger -ConnectionString $b", vars);
            Assert.Empty(listed.Errors);
            var row = Assert.Single(listed.Output);
            Assert.Equal(DatabaseName(b), row.Properties["Database"].Value);
            Assert.Equal(new NpgsqlConnectionStringBuilder(b).Host, row.Properties["Host"].Value);
            Assert.Contains("Password=********", row.Properties["Connection"].Value!.ToString());
            Assert.DoesNotContain(Password(b), PowerShellSession.AllText(listed) + Serialized(listed));
            // The table view shows it too.
            Assert.Empty(ps.Run("Get-PgSourceTrigger -ConnectionString $b | Out-Host", vars).Errors);
            Assert.Contains(DatabaseName(b), ps.HostText);
            Assert.DoesNotContain(Password(b), ps.HostText);

            // The confirmed bug: this removed A's source (the environment's) and left B's.
            var removed = ps.Run("Get-PgSourceTrigger -ConnectionString $b | Uninstall-PgSourceTrigger -Confirm:$false", vars);
            Assert.Empty(removed.Errors);
            Assert.Equal("Removed", removed.Output.Single().Properties["Status"].Value);
            Assert.Equal(DatabaseName(b), removed.Output.Single().Properties["Database"].Value);
            Assert.Empty(await TestSql.SourceObjectsAsync(b));
            Assert.Equal(3, (await TestSql.SourceObjectsAsync(a)).Count);

            // An explicit -ConnectionString on the downstream cmdlet still wins over the piped object's.
            Assert.Empty(ps.Run("New-PgSource -Name mypostgres -Table orders -ConnectionString $b | Install-PgSourceTrigger -Confirm:$false", vars).Errors);
            var explicitWins = ps.Run("Get-PgSourceTrigger -ConnectionString $b | Uninstall-PgSourceTrigger -ConnectionString $a -Confirm:$false", vars);
            Assert.Empty(explicitWins.Errors);
            Assert.Empty(await TestSql.SourceObjectsAsync(a));
            Assert.Equal(3, (await TestSql.SourceObjectsAsync(b)).Count);

            // Results and -PassThru objects carry it too: the next cmdlet tests, lists and installs there.
            var tested = ps.Run("Get-PgSourceTrigger -ConnectionString $b | Test-PgSourceConnection -Detailed", vars);
            Assert.Equal(DatabaseName(b), tested.Output.Single().Properties["Database"].Value);
            var passed = ps.Run("New-PgSource -Name other -Table orders -ConnectionString $b | Install-PgSourceTrigger -PassThru -Confirm:$false | Get-PgSourceTrigger", vars);
            Assert.Empty(passed.Errors);
            Assert.Equal(DatabaseName(b), passed.Output.Single().Properties["Database"].Value);
            Assert.Equal(6, (await TestSql.SourceObjectsAsync(b)).Count);
        }
        finally
        {
            Environment.SetEnvironmentVariable("PGSOURCE_CONNECTION", previous);
        }
    }

    [Fact]
    public async Task ImportCsvRowsBecomeSourcesAndInstallWithQuotedCommasInTableNames()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY); CREATE TABLE \"odd,name\" (id int PRIMARY KEY); CREATE TABLE items (id int PRIMARY KEY)");
        var csv = Path.Combine(Directory.CreateTempSubdirectory("pgsource-csv-").FullName, "sources.csv");
        string Cell(string value) => "\"" + value.Replace("\"", "\"\"") + "\"";
        File.WriteAllLines(csv,
        [
            "Name,Table,Mode,ConnectionString,Sink,Uid",
            $"csvone,{Cell("orders, \"odd,name\"")},Notify,{Cell(db)},,",
            $"csvtwo,items,Durable,{Cell(db)},http://receiver.example/,",
        ]);
        using var ps = PowerShellSession.Open(utility: true);
        var vars = new Hashtable { ["csv"] = csv, ["cs"] = db };

        var installed = ps.Run("Import-Csv -Path $csv | New-PgSource | Install-PgSourceTrigger -Confirm:$false", vars);

        Assert.Empty(installed.Errors);
        Assert.Null(installed.Terminating);
        Assert.Equal(["Installed", "Installed"], installed.Output.Select(o => (string)o.Properties["Status"].Value));
        Assert.All(installed.Output, o => Assert.Equal(DatabaseName(db), o.Properties["Database"].Value));
        var rows = ps.Run("Get-PgSourceTrigger -ConnectionString $cs | ForEach-Object { '{0}|{1}|{2}' -f $_.SourceName, $_.Table, $_.Mode }", vars);
        Assert.Equal(["csvone|odd,name|Notify", "csvone|orders|Notify", "csvtwo|items|Durable"], rows.Output.Select(o => o.ToString()).Order(StringComparer.Ordinal));

        var sources = ps.Run("Import-Csv -Path $csv | New-PgSource | ForEach-Object { ($_.Tables -join '|') + ' ' + $_.Sink }", vars);
        Assert.Equal("csvtwo", ps.Run("Import-Csv -Path $csv | New-PgSource | Select-Object -Last 1 | ForEach-Object Name", vars).Output.Single().ToString());
        Assert.Equal(2, sources.Output.Count);
        Assert.Equal("orders|odd,name", sources.Output[0].ToString().TrimEnd());
    }

    [Fact]
    public async Task CredentialJoinsAPasswordlessConnectionStringAndThePasswordShowsNowhere()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY)");
        var builder = new NpgsqlConnectionStringBuilder(db);
        var password = builder.Password!;
        var user = builder.Username!;
        builder.Password = null;
        var noPassword = builder.ConnectionString;
        builder.Username = "someone_else";
        var otherUser = builder.ConnectionString;
        var secure = new SecureString();
        foreach (var c in password)
        {
            secure.AppendChar(c);
        }
        secure.MakeReadOnly();
        var vars = new Hashtable { ["cs"] = noPassword, ["other"] = otherUser, ["cred"] = new PSCredential(user, secure), ["secret"] = secure };
        using var ps = PowerShellSession.Open();

        var results = new List<PowerShellSession.Result>();
        PowerShellSession.Result Run(string script)
        {
            var result = ps.Run(script, vars);
            results.Add(result);
            return result;
        }

        Assert.True((bool)Run("Test-PgSourceConnection -ConnectionString $cs -Credential $cred -Detailed -Verbose -Debug").Output.Single().Properties["Success"].Value);
        // The credential's user name replaces the string's; a SecureString alone (Get-Secret of a password) keeps the string's user.
        var overridden = Run("Test-PgSourceConnection -ConnectionString $other -Credential $cred");
        Assert.True(overridden.Output.Count == 1, string.Join("; ", overridden.Errors) + overridden.Terminating);
        Assert.True((bool)overridden.Output[0].BaseObject);
        var secretOnly = Run("Test-PgSourceConnection -ConnectionString $cs -Credential $secret");
        Assert.True(secretOnly.Output.Count == 1, string.Join("; ", secretOnly.Errors) + secretOnly.Terminating);
        Assert.True((bool)secretOnly.Output[0].BaseObject);
        Assert.False(Run("Test-PgSourceConnection -ConnectionString $cs -Verbose").Single<bool>());

        var installed = Run("New-PgSource -Name credsource -Table orders -ConnectionString $cs -Credential $cred | Install-PgSourceTrigger -Confirm:$false -Verbose -Debug");
        Assert.Empty(installed.Errors);
        Assert.Equal("Installed", installed.Output.Single().Properties["Status"].Value);
        var direct = Run("New-PgSource -Name direct -Table orders | Install-PgSourceTrigger -ConnectionString $other -Credential $cred -Confirm:$false -Debug");
        Assert.Empty(direct.Errors);

        // The rows carry the credential's login (privately): Uninstall acts without being given it again.
        var removed = Run("Get-PgSourceTrigger -ConnectionString $other -Credential $cred -Debug | Uninstall-PgSourceTrigger -Confirm:$false -Verbose -Debug");
        Assert.Empty(removed.Errors);
        Assert.Equal(["Removed", "Removed"], removed.Output.Select(o => (string)o.Properties["Status"].Value));
        Assert.Empty(await TestSql.SourceObjectsAsync(db));

        var failed = Run("New-PgSource -Name failing -Table nosuch -ConnectionString $cs -Credential $cred | Install-PgSourceTrigger -Confirm:$false -Verbose -Debug");
        Assert.StartsWith("PgSource.TableNotFound,", Assert.Single(failed.Errors).FullyQualifiedErrorId);
        var refused = Run("Get-PgSourceTrigger -ConnectionString $cs -Debug");
        Assert.StartsWith("PgSource.AuthenticationFailed,", Assert.Single(refused.Errors).FullyQualifiedErrorId);

        Assert.Contains(results.SelectMany(r => r.Debug), d => d.StartsWith("SQL: ", StringComparison.Ordinal));
        var everything = string.Join('\n', results.Select(r => PowerShellSession.AllText(r) + Serialized(r))) + ps.HostText;
        Assert.DoesNotContain(password, everything);
    }

    [Fact]
    public async Task DebugShowsTheSqlStatementsRun()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY)");
        using var ps = PowerShellSession.Open();
        var vars = new Hashtable { ["cs"] = db };

        var installed = ps.Run("New-PgSource -Name traced -Table orders -ConnectionString $cs | Install-PgSourceTrigger -Confirm:$false -Debug", vars);
        Assert.Empty(installed.Errors);
        Assert.Contains(installed.Debug, d => d.StartsWith("SQL: ", StringComparison.Ordinal) && d.Contains("CREATE OR REPLACE FUNCTION"));
        Assert.Contains(installed.Debug, d => d.Contains("TRIGGER", StringComparison.OrdinalIgnoreCase));

        var quiet = ps.Run("Get-PgSourceTrigger -ConnectionString $cs", vars);
        Assert.Empty(quiet.Debug);
        var preference = ps.Run("$DebugPreference = 'Continue'; Get-PgSourceTrigger -ConnectionString $cs; $DebugPreference = 'SilentlyContinue'", vars);
        Assert.Contains(preference.Debug, d => d.StartsWith("SQL: ", StringComparison.Ordinal));

        var removed = ps.Run("Uninstall-PgSourceTrigger -Name traced -ConnectionString $cs -Confirm:$false -Debug", vars);
        Assert.Contains(removed.Debug, d => d.Contains("DROP FUNCTION", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(Password(db), string.Join('\n', installed.Debug.Concat(preference.Debug).Concat(removed.Debug)));
    }

    [Fact]
    public async Task DebugShowsTheListenersSqlAndItsEventsStillFlow()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY)");
        using var ps = PowerShellSession.Open();
        var vars = new Hashtable { ["cs"] = db };
        Assert.Empty(ps.Run("New-PgSource -Name listened -Table orders -Mode Durable -ConnectionString $cs | Install-PgSourceTrigger -Confirm:$false", vars).Errors);
        await TestSql.ExecuteAsync(db, "INSERT INTO orders VALUES (1)");

        var listened = ps.Run("New-PgSource -Name listened -Table orders -Mode Durable -ConnectionString $cs | Start-PgSourceListener -MaxEvents 1 -Timeout 30 -Debug", vars);

        Assert.Empty(listened.Errors);
        Assert.Null(listened.Terminating);
        Assert.Equal("INSERT", Assert.Single(listened.Output).Properties["Operation"].Value);
        Assert.Contains(listened.Debug, d => d.StartsWith("SQL: ", StringComparison.Ordinal));
        Assert.DoesNotContain(Password(db), string.Join('\n', listened.Debug));
    }

    [Fact]
    public async Task PassThruWritesNothingForAChangeThatWasSkipped()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY)");
        using var ps = PowerShellSession.Open();
        ps.Host.ChoiceAnswer = 2; // "No" at every prompt
        var vars = new Hashtable { ["cs"] = db };

        Assert.Empty(ps.Run("New-PgSource -Name skipped -Table orders -ConnectionString $cs | Install-PgSourceTrigger -PassThru -WhatIf", vars).Output);
        Assert.Empty(ps.Run("New-PgSource -Name skipped -Table orders -ConnectionString $cs | Install-PgSourceTrigger -PassThru -Confirm", vars).Output);
        Assert.Empty(await TestSql.SourceObjectsAsync(db));

        var installed = ps.Run("New-PgSource -Name skipped -Table orders -ConnectionString $cs | Install-PgSourceTrigger -PassThru -Confirm:$false", vars);
        Assert.Equal("PostgresSource.PowerShell.PgSource", installed.Output.Single().BaseObject.GetType().FullName);
        // Nothing to do is not skipped: the source is in place, so it is passed on.
        Assert.Single(ps.Run("New-PgSource -Name skipped -Table orders -ConnectionString $cs | Install-PgSourceTrigger -PassThru -Confirm:$false", vars).Output);
        Assert.Empty(ps.Run("New-PgSource -Name skipped -Table orders -ConnectionString $cs | Uninstall-PgSourceTrigger -PassThru", vars).Output);
        Assert.Equal(3, (await TestSql.SourceObjectsAsync(db)).Count);
    }

    [Fact]
    public async Task SwitchingModeThatDropsABacklogAsksAtHighImpact()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY)");
        using var ps = PowerShellSession.Open();
        var vars = new Hashtable { ["cs"] = db };
        Assert.Empty(ps.Run("New-PgSource -Name switcher -Table orders -Mode Durable -ConnectionString $cs | Install-PgSourceTrigger -Confirm:$false", vars).Errors);
        await TestSql.ExecuteAsync(db, "INSERT INTO orders VALUES (1), (2)");
        ps.Host.ChoiceAnswer = 2; // "No"

        // Installing (Medium impact) does not ask at the default $ConfirmPreference (High) ...
        var again = ps.Run("New-PgSource -Name switcher -Table orders -Mode Durable -ConnectionString $cs | Install-PgSourceTrigger", vars);
        Assert.Equal("Unchanged", again.Output.Single().Properties["Status"].Value);
        Assert.Empty(ps.Host.Prompts);

        // ... but a switch that drops the journal and its backlog does, and "No" changes nothing.
        var declined = ps.Run("New-PgSource -Name switcher -Table orders -Mode Notify -ConnectionString $cs | Install-PgSourceTrigger -SwitchMode", vars);
        Assert.Empty(declined.Errors);
        Assert.Equal("Skipped", declined.Output.Single().Properties["Status"].Value);
        Assert.Contains("destroys data", Assert.Single(ps.Host.Prompts));
        Assert.Equal("Durable", ps.Run("Get-PgSourceTrigger -ConnectionString $cs", vars).Output.Single().Properties["Mode"].Value.ToString());

        // $ConfirmPreference = 'None' and -Confirm:$false (runbooks) do not ask.
        var switched = ps.Run("New-PgSource -Name switcher -Table orders -Mode Notify -ConnectionString $cs | Install-PgSourceTrigger -SwitchMode -Confirm:$false", vars);
        Assert.Empty(switched.Errors);
        Assert.Single(ps.Host.Prompts);
        Assert.Equal("Notify", ps.Run("Get-PgSourceTrigger -ConnectionString $cs", vars).Output.Single().Properties["Mode"].Value.ToString());
    }

    [Fact]
    public void PruneAsksAtHighImpactAndDebugShowsTheApiCalls()
    {
        using var server = new FakeKubernetesApiServer();
        var directory = Directory.CreateTempSubdirectory("pgsource-prune-").FullName;
        var vars = new Hashtable { ["kc"] = server.WriteKubeconfig(directory) };
        const string Orders = "New-PgSource -Name orders -Table orders -Sink http://receiver.default.svc.cluster.local/";
        const string Invoices = "New-PgSource -Name invoices -Table invoices -Sink http://receiver.default.svc.cluster.local/";
        using var ps = PowerShellSession.Open(utility: true);

        var synced = ps.Run($"@(({Orders}), ({Invoices})) | Sync-PgSourceCluster -Kubeconfig $kc -Debug", vars);
        Assert.Empty(synced.Errors);
        Assert.Empty(ps.Host.Prompts);
        Assert.Contains(synced.Debug, d => d.StartsWith("Kubernetes API: PATCH ", StringComparison.Ordinal));
        Assert.Contains(synced.Debug, d => d.StartsWith("Kubernetes API: GET ", StringComparison.Ordinal));
        Assert.DoesNotContain(FakeKubernetesApiServer.Token, string.Join('\n', synced.Debug));

        ps.Host.ChoiceAnswer = 2; // "No"
        var declined = ps.Run($"{Orders} | Sync-PgSourceCluster -Kubeconfig $kc -Prune | Where-Object Source -eq 'default/invoices'", vars);
        Assert.Empty(declined.Errors);
        Assert.NotEmpty(ps.Host.Prompts);
        Assert.All(ps.Host.Prompts, p => Assert.Contains("destroys data", p));
        Assert.All(declined.Output, o => Assert.Equal("Skipped", o.Properties["Action"].Value.ToString()));
        Assert.NotNull(server.Find("sources.vaikas.dev", "postgressources", "default", "invoices"));

        var pruned = ps.Run($"{Orders} | Sync-PgSourceCluster -Kubeconfig $kc -Prune -Confirm:$false", vars);
        Assert.Empty(pruned.Errors);
        Assert.Null(server.Find("sources.vaikas.dev", "postgressources", "default", "invoices"));
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public void EveryCmdletHasHelpUriAndTheManifestHelpInfoUriAndPrerelease()
    {
        using var ps = PowerShellSession.Open();
        var module = ps.Run("Get-Module PostgresSource").Output.Single();
        var projectUri = ps.Run("(Get-Module PostgresSource).PrivateData.PSData.ProjectUri").Output.Single().ToString();
        Assert.StartsWith(projectUri + "/", module.Properties["HelpInfoUri"].Value?.ToString());

        var reference = File.ReadAllText(Path.Combine(ModuleLayout.RepositoryRoot, "docs", "cmdlets.md"));
        var cmdlets = ps.Run("Get-Command -Module PostgresSource | ForEach-Object { $_.Name + '|' + $_.HelpUri }").Output.Select(o => o.ToString().Split('|')).ToList();
        Assert.Equal(10, cmdlets.Count);
        foreach (var cmdlet in cmdlets)
        {
            Assert.Equal(projectUri + "/blob/main/docs/cmdlets.md#" + cmdlet[0].ToLowerInvariant(), cmdlet[1]);
            Assert.Contains("\n## " + cmdlet[0] + "\n", reference.ReplaceLineEndings("\n"));
        }

        var changelog = File.ReadAllText(Path.Combine(ModuleLayout.RepositoryRoot, "CHANGELOG.md"));
        var latest = Regex.Match(changelog, @"^## \[(?<version>[^\]]+)\] - (?<state>.+)$", RegexOptions.Multiline);
        var prerelease = ps.Run("(Get-Module PostgresSource).PrivateData.PSData.Prerelease").Output.SingleOrDefault()?.ToString();
        Assert.Equal(latest.Groups["version"].Value, module.Properties["Version"].Value!.ToString()![..latest.Groups["version"].Value.Length]);
        if (latest.Groups["state"].Value.Trim() == "unreleased")
        {
            Assert.Matches("^[A-Za-z0-9]+$", prerelease);
        }
        else
        {
            Assert.True(string.IsNullOrEmpty(prerelease), "A released version has no Prerelease in PSData.");
        }
    }

    [Fact]
    public void EveryErrorIdInTheSourceIsAnErrorIdsConstantAndInTheAboutTopic()
    {
        var source = Path.Combine(ModuleLayout.RepositoryRoot, "src", "PostgresSource.PowerShell");
        var about = File.ReadAllText(Path.Combine(ModuleLayout.RepositoryRoot, "module", "en-US", "about_PostgresSource.help.txt"));
        var constants = File.ReadAllText(Path.Combine(source, "Infrastructure", "ErrorIds.cs"));
        var literals = Directory.EnumerateFiles(source, "*.cs", SearchOption.AllDirectories)
            .SelectMany(file => Regex.Matches(File.ReadAllText(file), "\"(PgSource\\.[A-Za-z]+)\"").Select(m => (File: Path.GetFileName(file), Id: m.Groups[1].Value)))
            .ToList();
        Assert.True(literals.Count >= 30, $"only {literals.Count} error ids found");
        // Ids are written once, as ErrorIds constants, so this scan sees every one.
        Assert.All(literals, l => Assert.Equal("ErrorIds.cs", l.File));
        Assert.All(literals, l => Assert.Matches(@"(?m)^\s+" + Regex.Escape(l.Id) + @"\s", about));
        Assert.All(literals, l => Assert.Contains(l.Id, constants));
        // Every id the about topic lists is one the module raises.
        foreach (Match listed in Regex.Matches(about, @"(?m)^\s+(PgSource\.[A-Za-z]+)\s"))
        {
            Assert.Contains(literals, l => l.Id == listed.Groups[1].Value);
        }
    }

    [Theory]
    [InlineData("Get-PgSourceTrigger")]
    [InlineData("Install-PgSourceTrigger")]
    [InlineData("Uninstall-PgSourceTrigger")]
    [InlineData("Start-PgSourceListener")]
    [InlineData("Test-PgSourceConnection")]
    [InlineData("New-PgSource")]
    [InlineData("Import-PgSource")]
    public void ConnectingCmdletsTakeCredentialAndTheHelpDiscouragesPasswordsInTheString(string cmdlet)
    {
        using var ps = PowerShellSession.Open();
        var vars = new Hashtable { ["n"] = cmdlet };
        var parameters = ps.Run("(Get-Command $n).Parameters", vars).Output.Single().BaseObject as IDictionary;
        Assert.NotNull(parameters);
        Assert.Equal(typeof(PSCredential), ((ParameterMetadata)parameters!["Credential"]!).ParameterType);
        var connection = (ParameterMetadata)parameters["ConnectionString"]!;
        if (cmdlet != "Import-PgSource")
        {
            Assert.Contains("Connection", connection.Aliases);
            Assert.Contains(connection.Attributes.OfType<ParameterAttribute>(), p => p.ValueFromPipelineByPropertyName);
        }
        var help = string.Join(' ', ps.Run("(Get-Help $n -Parameter ConnectionString).Description | ForEach-Object Text", vars).Output);
        Assert.Contains("discouraged", help);
        Assert.Contains("-Credential", help);
        var credentialHelp = string.Join(' ', ps.Run("(Get-Help $n -Parameter Credential).Description | ForEach-Object Text", vars).Output);
        Assert.Contains("Get-Secret", credentialHelp);
    }
}
