using System.Management.Automation;
using System.Management.Automation.Language;

namespace PostgresSource.PowerShell.Tests;

/// <summary>
/// Every .ps1 in the repository parses, and every PostgresSource command and parameter it uses exists.
/// (tests/PostgresSource.Pester.Tests runs them under real pwsh; this catches a renamed parameter in seconds, with no database.)
/// </summary>
public sealed class ScriptCheckTests
{
    public static TheoryData<string> Scripts()
    {
        var data = new TheoryData<string>();
        foreach (var file in new[] { "examples", "tests", "module" }
                     .Select(d => Path.Combine(ModuleLayout.RepositoryRoot, d))
                     .Where(Directory.Exists)
                     .SelectMany(d => Directory.EnumerateFiles(d, "*.ps1", SearchOption.AllDirectories))
                     .Append(Path.Combine(ModuleLayout.RepositoryRoot, "build.ps1"))
                     .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}node_modules{Path.DirectorySeparatorChar}") &&
                                 !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}")))
        {
            data.Add(Path.GetRelativePath(ModuleLayout.RepositoryRoot, file));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Scripts))]
    public void ScriptParsesAndUsesRealCommandsAndParameters(string relativePath)
    {
        var ast = Parser.ParseFile(Path.Combine(ModuleLayout.RepositoryRoot, relativePath), out _, out var errors);
        Assert.True(errors.Length == 0, $"{relativePath}: {string.Join("; ", errors.Select(e => $"line {e.Extent.StartLineNumber}: {e.Message}"))}");

        using var ps = PowerShellSession.Open();
        var commands = ps.Run("Get-Command -Module PostgresSource").Output
            .Select(o => (CmdletInfo)o.BaseObject)
            .ToDictionary(c => c.Name, StringComparer.OrdinalIgnoreCase);

        foreach (var call in ast.FindAll(n => n is CommandAst, searchNestedScriptBlocks: true).Cast<CommandAst>())
        {
            var name = call.GetCommandName();
            if (name is null || !name.Contains("-PgSource", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            Assert.True(commands.TryGetValue(name, out var command), $"{relativePath} line {call.Extent.StartLineNumber}: {name} is not a module command.");
            foreach (var parameter in call.CommandElements.OfType<CommandParameterAst>())
            {
                var known = command!.Parameters.Keys.Any(p => p.StartsWith(parameter.ParameterName, StringComparison.OrdinalIgnoreCase)) ||
                            command.Parameters.Values.Any(p => p.Aliases.Contains(parameter.ParameterName, StringComparer.OrdinalIgnoreCase));
                Assert.True(known, $"{relativePath} line {parameter.Extent.StartLineNumber}: {name} has no parameter -{parameter.ParameterName}.");
            }
        }
    }
}
