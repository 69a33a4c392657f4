using PostgresSource.Kubernetes;

namespace PostgresSource.Kubernetes.Tests;

/// <summary>The Kubernetes assembly serves the module and the controller only, so nothing in it is public.</summary>
public sealed class PublicSurfaceTests
{
    [Fact]
    public void TheKubernetesAssemblyExportsNothing() =>
        Assert.Empty(typeof(ClusterSynchronizer).Assembly.GetExportedTypes());
}
