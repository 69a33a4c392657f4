using PostgresSource.Core.Hosting;
using PostgresSource.Kubernetes.Manifests;
using PostgresSource.TestSupport;

namespace PostgresSource.Kubernetes.Tests;

/// <summary>
/// List and watch through KubernetesClient against the fake API server: the stream carries later changes,
/// and a resource version older than a compaction ends in <see cref="WatchExpiredException"/>, not silence.
/// </summary>
public sealed class WatchTests : IAsyncDisposable
{
    private readonly ControllerHarness _harness = new();
    private readonly string _directory = Directory.CreateTempSubdirectory("pgsource-watch-").FullName;

    public async ValueTask DisposeAsync()
    {
        await _harness.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private IClusterApi Connect() => KubernetesClusterApi.Connect(_harness.Server.WriteKubeconfig(_directory, FakeKubernetesApiServer.Token), null);

    [Fact]
    public async Task WatchFromTheListVersionCarriesLaterChanges()
    {
        var api = Connect();
        var list = await api.ListWithVersionAsync(ResourceType.PostgresSource, null, null, CancellationToken.None);
        Assert.Empty(list.Items);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var first = FirstAsync(api, list.ResourceVersion, timeout.Token);
        _harness.Server.UserApply(ControllerHarness.Resource("public.orders"));
        var change = await first;
        Assert.Equal("ADDED", change.Type);
        Assert.Equal("orders", JsonTree.GetString(change.Object, "metadata", "name"));
    }

    [Fact]
    public async Task WatchFromACompactedVersionThrowsWatchExpired()
    {
        var api = Connect();
        var list = await api.ListWithVersionAsync(ResourceType.PostgresSource, null, null, CancellationToken.None);
        _harness.Server.UserApply(ControllerHarness.Resource("public.orders"));
        _harness.Server.Compact();

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var error = await Assert.ThrowsAsync<WatchExpiredException>(() => FirstAsync(api, list.ResourceVersion, timeout.Token));
        Assert.Contains("410", error.Message, StringComparison.Ordinal);
    }

    private static async Task<WatchEvent> FirstAsync(IClusterApi api, string version, CancellationToken cancellationToken)
    {
        await foreach (var change in api.WatchAsync(ResourceType.PostgresSource, null, version, cancellationToken))
        {
            return change;
        }
        throw new InvalidOperationException("The watch ended without an event.");
    }
}
