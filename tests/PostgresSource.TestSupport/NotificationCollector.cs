using System.Collections.Concurrent;
using Npgsql;

namespace PostgresSource.TestSupport;

/// <summary>LISTENs on a channel with a plain Npgsql connection and keeps every payload, for asserting on NOTIFY traffic.</summary>
public sealed class NotificationCollector : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly BlockingCollection<string> _payloads = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private NotificationCollector(NpgsqlConnection connection)
    {
        _connection = connection;
        _connection.Notification += (_, e) => _payloads.Add(e.Payload);
        _loop = Task.Run(async () =>
        {
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    await _connection.WaitAsync(_stop.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
    }

    public static async Task<NotificationCollector> ListenAsync(string connectionString, string channel)
    {
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync().ConfigureAwait(false);
        await using (var command = new NpgsqlCommand($"LISTEN \"{channel.Replace("\"", "\"\"")}\"", connection))
        {
            await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        return new NotificationCollector(connection);
    }

    /// <summary>The next payload, or null after the timeout.</summary>
    public string? Next(TimeSpan timeout) => _payloads.TryTake(out var payload, timeout) ? payload : null;

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _loop.ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
