using System.Management.Automation;
using System.Reflection;
using System.Runtime.Loader;

namespace PostgresSource.PowerShell.Loading;

/// <summary>
/// Runs when the module is imported: routes the two assemblies the cmdlets reference directly
/// (PostgresSource.Core and PostgresSource.Kubernetes) into the private context. Removed again when the module is removed.
/// </summary>
public sealed class ModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    private static readonly string[] DirectReferences = ["PostgresSource.Core", "PostgresSource.Kubernetes"];

    private static readonly string DependencyDirectory = Path.Combine(
        Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location)!, "dependencies");

    private static readonly Lazy<ModuleLoadContext> LoadContext = new(() => new ModuleLoadContext(DependencyDirectory));

    public void OnImport()
    {
        AssemblyLoadContext.Default.Resolving += ResolveOwnAssembly;
        HookCoreTrace();
    }

    /// <summary>
    /// -Debug's SQL trace: Npgsql reads its logging set-up when it makes a connection pool, so the core's hook goes in
    /// before any cmdlet connects. A method of its own: the core type must be resolved after the handler above is in place.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void HookCoreTrace() => PostgresSource.Core.Diagnostics.OperationTrace.HookNpgsql();

    public void OnRemove(PSModuleInfo psModuleInfo) => AssemblyLoadContext.Default.Resolving -= ResolveOwnAssembly;

    private static Assembly? ResolveOwnAssembly(AssemblyLoadContext context, AssemblyName name)
    {
        // Answer only for our own assemblies, and only if the file is there: answering for anything else, or
        // asking the private context for a file it cannot find, would recurse into this handler.
        if (name.Name is null || !DirectReferences.Contains(name.Name, StringComparer.Ordinal) ||
            !File.Exists(Path.Combine(DependencyDirectory, name.Name + ".dll")))
        {
            return null;
        }
        return LoadContext.Value.LoadFromAssemblyName(name);
    }
}
