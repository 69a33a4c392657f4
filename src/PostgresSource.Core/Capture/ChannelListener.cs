using System.Net.Sockets;
using Npgsql;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture;

/// <summary>
/// The one LISTEN-and-reconnect loop: opens a connection that LISTENs on a channel (notifications go to
/// <see cref="ChannelListenerHandlers.Payload"/>), waits on it, and after a failure opens it again with the backoff.
/// Notify mode reads its changes this way; Durable mode its wake-ups. What a failure means (retry or give up, say so
/// or not, wait or not) is the caller's, in <see cref="ChannelListenerHandlers"/>. Runs until cancelled (then throws
/// <see cref="OperationCanceledException"/>) or until a failure is not retried (then throws it).
/// </summary>
internal static class ChannelListener
{
    public static async Task RunAsync(string connectionString, string channel, Backoff backoff, ChannelListenerHandlers handlers, CancellationToken token)
    {
        var connectedBefore = false;
        while (true)
        {
            token.ThrowIfCancellationRequested();
            NpgsqlConnection connection;
            try
            {
                connection = await OpenAsync(connectionString, channel, handlers.Payload, token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!token.IsCancellationRequested && handlers.RetryConnect(ex, connectedBefore))
            {
                var delay = backoff.Next();
                handlers.ConnectFailed?.Invoke(ex, delay, backoff.Attempts);
                await Task.Delay(delay, token).ConfigureAwait(false);
                continue;
            }
            Exception lost;
            try
            {
                backoff.Reset();
                handlers.Connected?.Invoke(connection, connectedBefore);
                connectedBefore = true;
                lost = await WaitAsync(connection, handlers, token).ConfigureAwait(false);
            }
            finally
            {
                await CloseAsync(connection).ConfigureAwait(false);
            }
            // Told once the connection is closed, so a handler that reports it never sees it half open.
            handlers.Lost?.Invoke(lost);
            if (handlers.WaitAfterLoss)
            {
                await Task.Delay(backoff.Next(), token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Waits for notifications until the connection fails in a way the caller retries; that failure is returned.</summary>
    private static async Task<Exception> WaitAsync(NpgsqlConnection connection, ChannelListenerHandlers handlers, CancellationToken token)
    {
        try
        {
            while (true)
            {
                await connection.WaitAsync(token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (!token.IsCancellationRequested && handlers.RetryLost(ex))
        {
            return ex;
        }
    }

    /// <summary>A connection that LISTENs on <paramref name="channel"/>; the handler is attached before it opens, so nothing is missed.</summary>
    private static async Task<NpgsqlConnection> OpenAsync(string connectionString, string channel, Action<string> payload, CancellationToken token)
    {
        var connection = new NpgsqlConnection(connectionString);
        connection.Notification += (_, e) => payload(e.Payload);
        try
        {
            await connection.OpenAsync(token).ConfigureAwait(false);
            await using var listen = new NpgsqlCommand("LISTEN " + Sql.Identifier(channel), connection);
            await listen.ExecuteNonQueryAsync(token).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await CloseAsync(connection).ConfigureAwait(false);
            throw;
        }
    }

    private static async Task CloseAsync(NpgsqlConnection connection)
    {
        try
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or IOException or SocketException or InvalidOperationException)
        {
            // Already broken.
        }
    }
}

/// <summary>What <see cref="ChannelListener"/> does with notifications and failures: one caller's policy.</summary>
internal sealed record ChannelListenerHandlers
{
    /// <summary>A notification's payload, on Npgsql's reading task: return at once.</summary>
    public required Action<string> Payload { get; init; }

    /// <summary>Open again after this failure to connect? (The second argument: was a connection open before.)</summary>
    public required Func<Exception, bool, bool> RetryConnect { get; init; }

    /// <summary>Open again after the open connection failed with this?</summary>
    public required Func<Exception, bool> RetryLost { get; init; }

    /// <summary>Told the failure, the wait the backoff chose and the attempt number, before waiting.</summary>
    public Action<Exception, TimeSpan, int>? ConnectFailed { get; init; }

    /// <summary>Listening (the second argument: after a loss).</summary>
    public Action<NpgsqlConnection, bool>? Connected { get; init; }

    /// <summary>The open connection was lost (and is closed now).</summary>
    public Action<Exception>? Lost { get; init; }

    /// <summary>Wait the backoff after a loss before opening again (false: open again at once, waiting only if that fails).</summary>
    public bool WaitAfterLoss { get; init; }
}
