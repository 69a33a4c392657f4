using Npgsql;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture.Reliability;

/// <summary>
/// How the Durable and Logical captures ride out a lost connection: the start-up work is tried again after each
/// transient failure, and each failure is announced and waited out with the backoff. The wording stays each capture's own.
/// </summary>
internal static class Reconnect
{
    /// <summary>
    /// Runs <paramref name="work"/> on the control connection until it completes. A transient failure goes to
    /// <paramref name="failedAsync"/> (with "while starting") and is tried again; one before the server was ever
    /// reached only when <paramref name="retryFirstConnection"/> (see <see cref="CaptureOptions.RetryInitialConnection"/>),
    /// else it is an error at once, like any other.
    /// </summary>
    public static async Task StartAsync(
        ControlConnection control,
        Func<NpgsqlConnection, CancellationToken, Task> work,
        bool retryFirstConnection,
        Func<Exception, string, Task> failedAsync,
        CancellationToken token)
    {
        var connectedOnce = false;
        while (true)
        {
            try
            {
                await control.UseAsync(async (connection, t) =>
                {
                    connectedOnce = true;
                    await work(connection, t).ConfigureAwait(false);
                }, token).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (TransientErrors.IsTransient(ex) && (connectedOnce || retryFirstConnection))
            {
                await failedAsync(ex, "while starting").ConfigureAwait(false);
            }
        }
    }

    /// <summary>Raises the capture's notice for a lost connection, built with the delay the backoff picked, then waits that delay.</summary>
    public static async Task WaitOutAsync(Backoff backoff, Func<TimeSpan, string> notice, Action<CaptureNotice>? handler, CancellationToken token)
    {
        var delay = backoff.Next();
        handler.RaiseSafely(notice(delay), false);
        await Task.Delay(delay, token).ConfigureAwait(false);
    }
}
