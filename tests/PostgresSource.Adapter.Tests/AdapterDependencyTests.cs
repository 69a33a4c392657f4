using System.Text.Json;

namespace PostgresSource.Adapter.Tests;

/// <summary>
/// The adapter never talks to the API server, so the Kubernetes client and the YAML reader stay out of its image:
/// they live in PostgresSource.Kubernetes, which only the module (and the controller) reference.
/// </summary>
public sealed class AdapterDependencyTests
{
    private static readonly string[] KubernetesOnly = ["PostgresSource.Kubernetes", "KubernetesClient", "YamlDotNet", "Fractions"];

    [Fact]
    public void TheAdapterBuildHoldsNoKubernetesOrYamlAssembly()
    {
        var directory = Path.GetDirectoryName(AdapterProcess.AdapterPath)!;
        var assemblies = Directory.GetFiles(directory, "*.dll").Select(Path.GetFileNameWithoutExtension).ToList();

        Assert.Contains("PostgresSource.Core", assemblies);
        Assert.Contains("Npgsql", assemblies);
        Assert.Empty(assemblies.Intersect(KubernetesOnly, StringComparer.OrdinalIgnoreCase));
    }

    [Fact]
    public void TheAdapterDependencyGraphNamesNoKubernetesOrYamlPackage()
    {
        // deps.json is what the runtime resolves from; a stale file in the folder is not enough to pass this.
        var depsPath = Path.ChangeExtension(AdapterProcess.AdapterPath, ".deps.json");
        using var deps = JsonDocument.Parse(File.ReadAllText(depsPath));
        var libraries = deps.RootElement.GetProperty("libraries").EnumerateObject().Select(library => library.Name.Split('/')[0]).ToList();

        Assert.Contains(libraries, name => name == "PostgresSource.Core");
        Assert.Empty(libraries.Intersect(KubernetesOnly, StringComparer.OrdinalIgnoreCase));
    }
}
