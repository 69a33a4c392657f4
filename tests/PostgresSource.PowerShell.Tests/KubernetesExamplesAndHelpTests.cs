using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Xml.Linq;

namespace PostgresSource.PowerShell.Tests;

/// <summary>
/// The Kubernetes examples parse and use only commands and parameters that exist; the MAML help fragments of
/// Export-PgSourceManifest and Sync-PgSourceCluster are well formed and document every parameter.
/// </summary>
public sealed class KubernetesExamplesAndHelpTests
{
    private static readonly XNamespace Maml = "http://schemas.microsoft.com/maml/2004/10";
    private static readonly XNamespace Command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    private static readonly XNamespace Dev = "http://schemas.microsoft.com/maml/dev/2004/10";

    /// <summary>Common commands outside Microsoft.PowerShell.Core that the examples may use (absent from a CreateDefault2 session).</summary>
    private static readonly HashSet<string> CommonCommands = new(StringComparer.OrdinalIgnoreCase)
    {
        "Set-Content", "Get-Content", "Get-ChildItem", "Join-Path", "Test-Path", "New-Item", "Write-Host", "Write-Output", "Write-Verbose", "Get-Credential",
    };

    [Theory]
    [InlineData("migrate-from-seed.ps1", new[] { "Import-PgSource", "Sync-PgSourceCluster" })]
    [InlineData("gitops-export.ps1", new[] { "Import-PgSource", "Export-PgSourceManifest" })]
    public void ExampleParsesAndUsesOnlyKnownCommandsAndParameters(string file, string[] mustUse)
    {
        var path = Path.Combine(ModuleLayout.RepositoryRoot, "examples", file);
        var ast = Parser.ParseFile(path, out _, out var errors);
        Assert.Empty(errors);

        using var ps = PowerShellSession.Open();
        var commands = ast.FindAll(node => node is CommandAst, searchNestedScriptBlocks: true).Cast<CommandAst>().ToList();
        var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var command in commands)
        {
            var name = command.GetCommandName();
            Assert.NotNull(name);
            used.Add(name);
            if (CommonCommands.Contains(name))
            {
                continue;
            }
            var info = ps.Run("Get-Command -Name $x -ErrorAction SilentlyContinue", new Hashtable { ["x"] = name }).Output.SingleOrDefault()?.BaseObject as CommandInfo;
            Assert.True(info is not null, $"{file}: '{name}' is neither a module cmdlet, a Microsoft.PowerShell.Core command, nor a common command.");
            Assert.True(info!.ModuleName is "PostgresSource" or "Microsoft.PowerShell.Core" || info.ModuleName.Length == 0,
                $"{file}: '{name}' comes from {info.ModuleName}.");
            foreach (var parameter in command.CommandElements.OfType<CommandParameterAst>())
            {
                var known = info.Parameters.Keys.Concat(info.Parameters.Values.SelectMany(p => p.Aliases));
                Assert.True(known.Any(k => k.StartsWith(parameter.ParameterName, StringComparison.OrdinalIgnoreCase)),
                    $"{file}: {name} has no parameter -{parameter.ParameterName}.");
            }
        }
        Assert.All(mustUse, command => Assert.Contains(command, used));
    }

    [Theory]
    [InlineData("Export-PgSourceManifest")]
    [InlineData("Sync-PgSourceCluster")]
    public void HelpFragmentIsOneCommandDocumentingEveryParameter(string name)
    {
        var path = Path.Combine(ModuleLayout.RepositoryRoot, "module", "help", name + ".xml");
        var document = XDocument.Load(path);
        var root = document.Root!;
        Assert.Equal(Command + "command", root.Name);
        Assert.Equal(Maml.NamespaceName, root.Attribute(XNamespace.Xmlns + "maml")?.Value);
        Assert.Equal(Command.NamespaceName, root.Attribute(XNamespace.Xmlns + "command")?.Value);
        Assert.Equal(Dev.NamespaceName, root.Attribute(XNamespace.Xmlns + "dev")?.Value);
        Assert.Single(document.Descendants(Command + "command"));

        Assert.Equal(name, root.Element(Command + "details")!.Element(Command + "name")!.Value);
        Assert.False(string.IsNullOrWhiteSpace(root.Element(Command + "details")!.Element(Maml + "description")!.Value));
        Assert.False(string.IsNullOrWhiteSpace(root.Element(Maml + "description")!.Value));
        Assert.Equal(2, root.Element(Command + "examples")!.Elements(Command + "example").Count());
        Assert.NotEmpty(root.Element(Command + "inputTypes")!.Elements());
        Assert.NotEmpty(root.Element(Command + "returnValues")!.Elements());

        var documented = root.Element(Command + "parameters")!.Elements(Command + "parameter")
            .Select(p => p.Element(Maml + "name")!.Value).ToHashSet(StringComparer.Ordinal);
        Assert.All(root.Element(Command + "parameters")!.Elements(Command + "parameter"),
            p => Assert.False(string.IsNullOrWhiteSpace(p.Element(Maml + "description")!.Value)));

        using var ps = PowerShellSession.Open();
        var info = (CommandInfo)ps.Run("Get-Command -Name $x", new Hashtable { ["x"] = name }).Output.Single().BaseObject;
        var actual = info.Parameters.Keys
            .Where(k => !Cmdlet.CommonParameters.Contains(k) && (!Cmdlet.OptionalCommonParameters.Contains(k) || k is "WhatIf" or "Confirm"))
            .ToHashSet(StringComparer.Ordinal);
        Assert.Equal(actual.Order(), documented.Order());
    }
}
