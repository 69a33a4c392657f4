using System.Collections;
using System.Management.Automation;

namespace PostgresSource.PowerShell.Tests;

/// <summary>Every cmdlet's help, read through Get-Help from the shipped MAML, is complete.</summary>
public sealed class HelpTests
{
    private static readonly HashSet<string> CommonParameters =
        [.. Cmdlet.CommonParameters, .. Cmdlet.OptionalCommonParameters];

    public static TheoryData<string> Cmdlets()
    {
        using var ps = PowerShellSession.Open();
        var data = new TheoryData<string>();
        foreach (var name in ps.Run("Get-Command -Module PostgresSource | ForEach-Object Name").Output)
        {
            data.Add(name.ToString());
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cmdlets))]
    public void HelpIsComplete(string cmdlet)
    {
        using var ps = PowerShellSession.Open();
        var help = ps.Run("Get-Help -Name $n -Full", new Hashtable { ["n"] = cmdlet }).Output.Single();
        string Text(object? value) => value?.ToString() ?? string.Empty;

        Assert.False(string.IsNullOrWhiteSpace(Text(help.Properties["Synopsis"].Value)), $"{cmdlet}: no synopsis");
        // Without MAML, Get-Help falls back to the syntax as synopsis; a real synopsis is a sentence.
        Assert.DoesNotContain(cmdlet + " ", Text(help.Properties["Synopsis"].Value));
        var description = ps.Run("(Get-Help -Name $n).Description | ForEach-Object Text", new Hashtable { ["n"] = cmdlet }).Output;
        Assert.NotEmpty(description);

        var examples = ps.Run("(Get-Help -Name $n -Examples).Examples.Example", new Hashtable { ["n"] = cmdlet }).Output;
        Assert.True(examples.Count >= 2, $"{cmdlet}: {examples.Count} example(s); at least two are needed.");
        Assert.All(examples, e => Assert.Contains("PgSource", Text(e.Properties["code"].Value)));

        var documented = ps.Run("(Get-Help -Name $n -Full).Parameters.Parameter | ForEach-Object { '{0}|{1}' -f $_.Name, ($_.Description | ForEach-Object Text) -join ' ' }",
                new Hashtable { ["n"] = cmdlet }).Output
            .Select(o => o.ToString().Split('|', 2))
            .ToDictionary(p => p[0], p => p[1]);
        var actual = ps.Run("(Get-Command -Name $n).Parameters.Keys", new Hashtable { ["n"] = cmdlet }).Output
            .Select(o => o.ToString()).Where(p => !CommonParameters.Contains(p));
        foreach (var parameter in actual)
        {
            Assert.True(documented.TryGetValue(parameter, out var text) && text.Trim().Length > 10,
                $"{cmdlet}: parameter -{parameter} has no help.");
        }
        foreach (var parameter in documented.Keys)
        {
            Assert.True(actual.Contains(parameter) || CommonParameters.Contains(parameter),
                $"{cmdlet}: help documents -{parameter}, which the cmdlet does not have.");
        }
    }

    [Fact]
    public void AboutTopicShips()
    {
        using var ps = PowerShellSession.Open();
        var text = string.Join('\n', ps.Run("Get-Help about_PostgresSource").Output.Select(o => o.ToString()));
        Assert.Contains("CAPTURE MODES", text);
        Assert.Contains("PgSource.TableNotFound", text);
    }

    [Fact]
    public void FormatsLoadWithoutError()
    {
        using var ps = PowerShellSession.Open();
        var result = ps.Run("New-PgSource -Name shown -Table orders -ConnectionString 'postgres://u:TopSecret99@h/db' | Out-Host");
        Assert.Empty(result.Errors);
        var text = ps.HostText;
        Assert.Contains("shown", text);
        Assert.Contains("ObjectName", text);
        Assert.DoesNotContain("TopSecret99", text);
        Assert.Contains("Password=********", text);
    }
}

/// <summary>Every stable error id the module can raise is documented in about_PostgresSource.</summary>
public sealed class ErrorIdDocumentationTests
{
    [Fact]
    public void EveryErrorIdIsInTheAboutTopic()
    {
        var assembly = System.Reflection.Assembly.LoadFile(Path.Combine(ModuleLayout.ModuleDirectory, "PostgresSource.PowerShell.dll"));
        var ids = assembly.GetType("PostgresSource.PowerShell.Infrastructure.ErrorIds", throwOnError: true)!
            .GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)
            .Where(f => f.IsLiteral)
            .Select(f => (string)f.GetRawConstantValue()!)
            .ToList();
        Assert.NotEmpty(ids);
        var about = File.ReadAllText(Path.Combine(ModuleLayout.ModuleDirectory, "en-US", "about_PostgresSource.help.txt"));
        Assert.All(ids, id => Assert.Contains(id, about));
    }
}
