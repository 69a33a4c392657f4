using Npgsql;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture.Logical;

/// <summary>
/// Holds an idle ordinary session next to the replication stream. When the server ends it (fast shutdown
/// terminates every ordinary session before the shutdown checkpoint; an administrator's pg_terminate_backend
/// does the same), the stream is stopped too: PostgreSQL keeps a walsender, and its shutdown, waiting until
/// the client confirms everything sent, which unacknowledged changes prevent. The capture then reconnects with backoff.
/// </summary>
internal static class ServerShutdownWatch
{
    public static async Task RunAsync(string connectionString, CancellationTokenSource stop)
    {
        NpgsqlConnection connection;
        try
        {
            connection = await DatabaseConnection.OpenAsync(connectionString, stop.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // No watch without a connection; the stream still fails by itself if the server goes.
            return;
        }
        try
        {
            while (true)
            {
                await connection.WaitAsync(stop.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is PostgresException { SqlState: PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow } || TransientErrors.IsTransient(ex))
        {
            try
            {
                stop.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }
        finally
        {
            try
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Cleaning up after a connection that is going away anyway.
            }
        }
    }
}
