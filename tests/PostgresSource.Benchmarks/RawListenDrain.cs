using Npgsql;
using PostgresSource.Core.Database;

namespace PostgresSource.Benchmarks;

/// <summary>
/// P3 (c): a bare LISTEN session whose client only reads and drops notifications (no JSON, no HTTP):
/// separates what NOTIFY costs the server with a live listener from what the .NET listener and sink cost the CPU.
/// </summary>
internal sealed class RawListenDrain : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    public long Received;

    private RawListenDrain(NpgsqlConnection connection)
    {
        _connection = connection;
        _connection.Notification += (_, _) => Received++;
        _loop = Task.Run(async () =>
        {
            try
            {
                while (!_stop.IsCancellationRequested) await _connection.WaitAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
            }
        });
    }

    public static RawListenDrain Start(string connectionString, string channel)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        connection.Open();
        using (var listen = new NpgsqlCommand("LISTEN " + Sql.Identifier(channel), connection)) listen.ExecuteNonQuery();
        return new RawListenDrain(connection);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _loop;
        await _connection.DisposeAsync();
    }
}
