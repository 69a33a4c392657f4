using PostgresSource.TestSupport;

namespace PostgresSource.Benchmarks;

/// <summary>A LISTEN session that keeps the notification queue drained while writers run (a listener is always up in production).</summary>
internal sealed class NotifyDrain : IAsyncDisposable
{
    private readonly string _connectionString;
    private NotificationCollector? _collector;

    private NotifyDrain(string connectionString) => _connectionString = connectionString;

    public static NotifyDrain Create(string connectionString) => new(connectionString);

    public IAsyncDisposable Listen(string channel)
    {
        _collector = NotificationCollector.ListenAsync(_connectionString, channel).GetAwaiter().GetResult();
        return _collector;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
