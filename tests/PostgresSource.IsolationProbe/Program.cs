using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Runtime.Loader;

// 1. Load YamlDotNet 13 into the default context, as another module would.
var oldYaml = new YamlDotNet.Serialization.DeserializerBuilder().Build();
Console.WriteLine($"default context YamlDotNet {typeof(YamlDotNet.Serialization.Deserializer).Assembly.GetName().Version}");
_ = oldYaml.Deserialize<Dictionary<string, string>>("a: b");

// 2. Import the module and read a YAML file with it (which needs YamlDotNet 18).
var manifest = args[0];
var yamlFile = Path.Combine(Path.GetTempPath(), $"isolation-{Guid.NewGuid():N}.yaml");
File.WriteAllText(yamlFile, """
    apiVersion: sources.vaikas.dev/v1alpha1
    kind: PostgresSource
    metadata:
      name: isolated
    spec:
      tables:
      - name: orders
    """);
try
{
    using var runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
    runspace.Open();
    using var shell = PowerShell.Create();
    shell.Runspace = runspace;
    shell.AddScript("Import-Module $args[0] -ErrorAction Stop; Import-PgSource -Path $args[1]").AddArgument(manifest).AddArgument(yamlFile);
    var output = shell.Invoke();
    foreach (var error in shell.Streams.Error)
    {
        Console.Error.WriteLine(error);
    }
    if (shell.HadErrors || output.Count != 1)
    {
        return 1;
    }
    Console.WriteLine($"imported source: {output[0].Properties["Name"].Value}");

    // 3. Both versions are loaded, each in its own context.
    foreach (var context in AssemblyLoadContext.All)
    {
        foreach (var assembly in context.Assemblies.Where(a => a.GetName().Name == "YamlDotNet"))
        {
            var label = context == AssemblyLoadContext.Default ? "default" : context.Name == "PostgresSource" ? "module" : context.Name;
            Console.WriteLine($"{label} context YamlDotNet {assembly.GetName().Version}");
        }
    }
    return 0;
}
finally
{
    File.Delete(yamlFile);
}
