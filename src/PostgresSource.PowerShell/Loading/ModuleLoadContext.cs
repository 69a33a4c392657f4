using System.Reflection;
using System.Runtime.Loader;

namespace PostgresSource.PowerShell.Loading;

/// <summary>
/// The module's private AssemblyLoadContext: the core and its third-party dependencies (Npgsql,
/// YamlDotNet, KubernetesClient, ...) load here from dependencies/, so another module's copy of the
/// same library, loaded earlier into the default context, cannot break this one.
/// </summary>
internal sealed class ModuleLoadContext : AssemblyLoadContext
{
    private readonly string _dependencyDirectory;

    public ModuleLoadContext(string dependencyDirectory)
        : base("PostgresSource", isCollectible: false)
    {
        _dependencyDirectory = dependencyDirectory;
    }

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        // Only what we ship is ours; everything else (the framework, PowerShell) comes from the default context.
        var path = Path.Combine(_dependencyDirectory, assemblyName.Name + ".dll");
        return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
    }
}
