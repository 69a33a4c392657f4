using k8s;
using k8s.Exceptions;
using k8s.KubeConfigModels;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes;

/// <summary>
/// Finds the cluster to talk to, in kubectl's order: an explicit kubeconfig file, the files in KUBECONFIG
/// (merged), ~/.kube/config, and finally the in-cluster service account when running in a pod.
/// </summary>
internal static class Kubeconfig
{
    public const string EnvironmentVariable = "KUBECONFIG";

    public sealed record Loaded(KubernetesClientConfiguration Configuration, string Origin, string? Context)
    {
        /// <summary>True for the pod's own service account: the caller runs inside the cluster's network.</summary>
        public bool InCluster => Origin == InClusterOrigin;
    }

    private const string InClusterOrigin = "in-cluster service account";

    public static Loaded Load(string? kubeconfigPath, string? context, Func<string, string?>? getEnvironment = null)
    {
        getEnvironment ??= Environment.GetEnvironmentVariable;
        var (config, origin) = LoadFiles(kubeconfigPath, getEnvironment);
        if (config is null)
        {
            if (KubernetesClientConfiguration.IsInCluster())
            {
                if (!string.IsNullOrEmpty(context))
                {
                    throw new KubeconfigException($"Context '{context}' was asked for, but there is no kubeconfig: inside a cluster only the pod's own service account is available.");
                }
                return new Loaded(KubernetesClientConfiguration.InClusterConfig(), InClusterOrigin, null);
            }
            throw new KubeconfigException(
                "No kubeconfig found: none was given, KUBECONFIG is not set, there is no ~/.kube/config, and this is not inside a cluster.");
        }

        var contexts = (config.Contexts ?? []).Select(c => c.Name).ToList();
        var chosen = string.IsNullOrEmpty(context) ? config.CurrentContext : context;
        if (string.IsNullOrEmpty(chosen))
        {
            throw new KubeconfigException($"The kubeconfig ({origin}) has no current-context, and no context was given; it has: {string.Join(", ", contexts)}.");
        }
        if (!contexts.Contains(chosen))
        {
            throw new KubeconfigException($"The context '{chosen}' is not in the kubeconfig ({origin}); it has: {(contexts.Count == 0 ? "no contexts" : string.Join(", ", contexts))}.");
        }
        try
        {
            return new Loaded(KubernetesClientConfiguration.BuildConfigFromConfigObject(config, chosen), origin, chosen);
        }
        catch (KubeConfigException ex)
        {
            throw new KubeconfigException($"The kubeconfig ({origin}) cannot be used with context '{chosen}': {ex.Message}", ex);
        }
    }

    /// <summary>The context names in the kubeconfig that would be used (for tab completion); empty when there is none.</summary>
    public static IReadOnlyList<string> ContextNames(string? kubeconfigPath, Func<string, string?>? getEnvironment = null)
    {
        try
        {
            var (config, _) = LoadFiles(kubeconfigPath, getEnvironment ?? Environment.GetEnvironmentVariable);
            return config?.Contexts?.Select(c => c.Name).Where(n => !string.IsNullOrEmpty(n)).ToList() ?? [];
        }
        catch (Exception ex) when (ex is KubeconfigException or IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>Merges kubeconfig files as kubectl does: for every name, the first file that defines it wins.</summary>
    private static K8SConfiguration Merge(IReadOnlyList<K8SConfiguration> configs)
    {
        if (configs.Count == 1)
        {
            return configs[0];
        }
        var first = configs[0];
        return new K8SConfiguration
        {
            ApiVersion = first.ApiVersion,
            Kind = first.Kind,
            FileName = first.FileName,
            Preferences = first.Preferences,
            CurrentContext = configs.Select(c => c.CurrentContext).FirstOrDefault(c => !string.IsNullOrEmpty(c)),
            Contexts = configs.SelectMany(c => c.Contexts ?? []).DistinctBy(c => c.Name).ToList(),
            Clusters = configs.SelectMany(c => c.Clusters ?? []).DistinctBy(c => c.Name).ToList(),
            Users = configs.SelectMany(c => c.Users ?? []).DistinctBy(u => u.Name).ToList(),
        };
    }

    private static (K8SConfiguration? Config, string Origin) LoadFiles(string? kubeconfigPath, Func<string, string?> getEnvironment)
    {
        try
        {
            if (!string.IsNullOrEmpty(kubeconfigPath))
            {
                if (!File.Exists(kubeconfigPath))
                {
                    throw new KubeconfigException($"The kubeconfig file '{kubeconfigPath}' does not exist.");
                }
                return (KubernetesClientConfiguration.LoadKubeConfig(new FileInfo(kubeconfigPath), useRelativePaths: true), kubeconfigPath);
            }

            var fromEnvironment = getEnvironment(EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(fromEnvironment))
            {
                var files = fromEnvironment.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Where(File.Exists).Select(f => new FileInfo(f)).ToArray();
                if (files.Length > 0)
                {
                    return (Merge(files.Select(f => KubernetesClientConfiguration.LoadKubeConfig(f, useRelativePaths: true)).ToList()), "KUBECONFIG=" + fromEnvironment);
                }
            }

            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            var defaultPath = Path.Combine(home, ".kube", "config");
            if (File.Exists(defaultPath))
            {
                return (KubernetesClientConfiguration.LoadKubeConfig(new FileInfo(defaultPath), useRelativePaths: true), defaultPath);
            }
            return (null, string.Empty);
        }
        catch (KubeConfigException ex)
        {
            throw new KubeconfigException("The kubeconfig cannot be read: " + ex.Message, ex);
        }
        catch (YamlDotNet.Core.YamlException ex)
        {
            throw new KubeconfigException("The kubeconfig is not valid YAML: " + ex.Message, ex);
        }
    }
}
