using Xunit;

namespace PostgresSource.TestSupport;

/// <summary>The one fixture every database test uses: one server per test assembly, a fresh database per test.</summary>
public sealed class DatabaseFixture : IAsyncLifetime
{
    private PostgresServer? _server;

    public PostgresServer Server => _server ?? throw new InvalidOperationException("The database fixture has not started.");

    public async Task InitializeAsync() => _server = await PostgresServer.StartAsync().ConfigureAwait(false);

    public Task<string> CreateDatabaseAsync(string prefix = "t") => Server.CreateDatabaseAsync(prefix);

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }
    }
}
