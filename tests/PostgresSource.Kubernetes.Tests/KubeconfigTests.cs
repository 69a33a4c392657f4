using PostgresSource.Kubernetes;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes.Tests;

public sealed class KubeconfigTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("pgsource-kubeconfig-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Write(string name, string server, string context, string? current)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: {context}
              cluster:
                server: {server}
            contexts:
            - name: {context}
              context:
                cluster: {context}
                user: {context}
                namespace: ns-{context}
            {(current is null ? "" : "current-context: " + current)}
            users:
            - name: {context}
              user:
                token: t-{context}
            """);
        return path;
    }

    [Fact]
    public void ExplicitFileWinsOverKubeconfigVariable()
    {
        var explicitFile = Write("a.yaml", "https://a.example:6443", "a", "a");
        var fromVariable = Write("b.yaml", "https://b.example:6443", "b", "b");

        var loaded = Kubeconfig.Load(explicitFile, null, name => name == "KUBECONFIG" ? fromVariable : null);

        Assert.Equal("https://a.example:6443/", new Uri(loaded.Configuration.Host).ToString());
        Assert.Equal("a", loaded.Context);
        Assert.Equal("ns-a", loaded.Configuration.Namespace);
    }

    [Fact]
    public void KubeconfigVariableFilesAreMergedFirstWins()
    {
        var first = Write("a.yaml", "https://a.example:6443", "a", null);
        var second = Write("b.yaml", "https://b.example:6443", "b", "b");
        var variable = string.Join(Path.PathSeparator, first, Path.Combine(_directory, "missing.yaml"), second);

        var current = Kubeconfig.Load(null, null, name => name == "KUBECONFIG" ? variable : null);
        Assert.Equal("b", current.Context);
        var other = Kubeconfig.Load(null, "a", name => name == "KUBECONFIG" ? variable : null);
        Assert.StartsWith("https://a.example:6443", other.Configuration.Host);
        Assert.Equal(["a", "b"], Kubeconfig.ContextNames(null, name => name == "KUBECONFIG" ? variable : null));
    }

    [Fact]
    public void UnknownContextAndMissingFileAreClearErrors()
    {
        var file = Write("a.yaml", "https://a.example:6443", "a", "a");

        var context = Assert.Throws<KubeconfigException>(() => Kubeconfig.Load(file, "prod", _ => null));
        Assert.Equal($"The context 'prod' is not in the kubeconfig ({file}); it has: a.", context.Message);

        var missing = Assert.Throws<KubeconfigException>(() => Kubeconfig.Load(Path.Combine(_directory, "nope.yaml"), null, _ => null));
        Assert.Contains("does not exist", missing.Message);

        Assert.Empty(Kubeconfig.ContextNames(Path.Combine(_directory, "nope.yaml")));
    }
}
