using System.Collections;
using System.Management.Automation;
using System.Reflection;

namespace PostgresSource.PowerShell.Tests;

public sealed class ModuleMetadataTests
{
    internal static IReadOnlyList<string> ManifestCmdlets()
    {
        using var session = PowerShellSession.Open(importModule: false);
        var result = session.Run("(Import-PowerShellDataFile -Path $p).CmdletsToExport", new Hashtable { ["p"] = ModuleLayout.ManifestPath });
        if (result.Output.Count == 0)
        {
            // Import-PowerShellDataFile is a Utility command, absent from a CreateDefault2 session: read via Test-ModuleManifest.
            result = session.Run("(Test-ModuleManifest -Path $p).ExportedCmdlets.Keys", new Hashtable { ["p"] = ModuleLayout.ManifestPath });
        }
        return result.Output.Select(o => o.ToString()).Order().ToList();
    }

    [Fact]
    public void ManifestPassesTestModuleManifest()
    {
        using var session = PowerShellSession.Open(importModule: false);
        var result = session.Run("Test-ModuleManifest -Path $p", new Hashtable { ["p"] = ModuleLayout.ManifestPath });
        Assert.Empty(result.Errors);
        Assert.Null(result.Terminating);
        var module = (PSModuleInfo)Assert.Single(result.Output).BaseObject;
        Assert.Equal(new Version(7, 4), module.PowerShellVersion);
        Assert.Equal(["Core"], module.CompatiblePSEditions);
    }

    [Fact]
    public void ImportedCommandsAreExactlyTheManifestList()
    {
        using var session = PowerShellSession.Open();
        var exported = session.Run("Get-Command -Module PostgresSource | ForEach-Object Name").Output.Select(o => o.ToString()).Order().ToList();
        Assert.Equal(ManifestCmdlets(), exported);
    }

    [Fact]
    public void CmdletClassesMatchManifestAndUseApprovedVerbsAndSingularNouns()
    {
        var assembly = Assembly.LoadFile(Path.Combine(ModuleLayout.ModuleDirectory, "PostgresSource.PowerShell.dll"));
        var cmdlets = assembly.GetExportedTypes()
            .Select(t => t.GetCustomAttribute<CmdletAttribute>())
            .Where(a => a is not null)
            .Select(a => $"{a!.VerbName}-{a.NounName}")
            .Order()
            .ToList();
        Assert.Equal(ManifestCmdlets(), cmdlets);

        // The approved verbs are the constants of PowerShell's Verbs* classes (Get-Verb is not in a CreateDefault2 session).
        var approved = new[] { typeof(VerbsCommon), typeof(VerbsData), typeof(VerbsLifecycle), typeof(VerbsDiagnostic), typeof(VerbsCommunications), typeof(VerbsSecurity), typeof(VerbsOther) }
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.Static))
            .Select(f => (string)f.GetValue(null)!)
            .ToHashSet();
        foreach (var cmdlet in cmdlets)
        {
            var (verb, noun) = (cmdlet.Split('-')[0], cmdlet.Split('-')[1]);
            Assert.True(approved.Contains(verb), $"{cmdlet}: '{verb}' is not an approved verb.");
            Assert.False(noun.EndsWith('s') && !noun.EndsWith("ss"), $"{cmdlet}: the noun should be singular.");
        }
    }

    [Fact]
    public void NoThirdPartyTypeInAPublicSignature()
    {
        var assembly = Assembly.LoadFile(Path.Combine(ModuleLayout.ModuleDirectory, "PostgresSource.PowerShell.dll"));
        var forbidden = new[] { "Npgsql", "YamlDotNet", "k8s", "CloudNative", "PostgresSource.Core" };
        foreach (var type in assembly.GetExportedTypes())
        {
            var signatures = type.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static).Select(p => p.PropertyType)
                .Concat(type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
                    .SelectMany(m => m.GetParameters().Select(p => p.ParameterType).Append(m.ReturnType)))
                .Append(type.BaseType!);
            foreach (var signature in signatures.Where(s => s is not null))
            {
                Assert.DoesNotContain(forbidden, f => (signature.Namespace ?? string.Empty).StartsWith(f, StringComparison.Ordinal));
            }
        }
    }

    [Fact]
    public void ModuleFolderShipsNoPowerShellAssemblies()
    {
        var files = Directory.GetFiles(ModuleLayout.ModuleDirectory, "*.dll", SearchOption.AllDirectories).Select(Path.GetFileName).ToList();
        Assert.DoesNotContain("System.Management.Automation.dll", files);
        Assert.Contains("PostgresSource.PowerShell.dll", files);
        Assert.True(File.Exists(Path.Combine(ModuleLayout.ModuleDirectory, "dependencies", "PostgresSource.Core.dll")));
        Assert.True(File.Exists(Path.Combine(ModuleLayout.ModuleDirectory, "dependencies", "Npgsql.dll")));
        Assert.False(File.Exists(Path.Combine(ModuleLayout.ModuleDirectory, "PostgresSource.Core.dll")));
    }
}
