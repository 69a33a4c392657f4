using System.Net.Sockets;
using Npgsql;

namespace PostgresSource.Core.Capture.Reliability;

/// <summary>Which failures a capture rides out by reconnecting, and which it reports as configuration errors.</summary>
internal static class TransientErrors
{
    public static bool IsTransient(Exception exception) => exception switch
    {
        OperationCanceledException => false,
        PostgresException postgres => IsTransientState(postgres.SqlState),
        NpgsqlException => true,
        IOException or SocketException or TimeoutException => true,
        AggregateException aggregate => aggregate.InnerExceptions.All(IsTransient),
        _ => exception.InnerException is { } inner && IsTransient(inner),
    };

    public static bool IsTransientState(string sqlState) =>
        sqlState.StartsWith("08", StringComparison.Ordinal)      // connection exceptions
        || sqlState.StartsWith("53", StringComparison.Ordinal)   // insufficient resources (too many connections, ...)
        || sqlState.StartsWith("57P", StringComparison.Ordinal)  // admin/crash shutdown, cannot connect now
        || sqlState is "57014"                                   // query canceled (statement timeout)
            or "40001" or "40P01"                                // serialization failure, deadlock
            or "55006"                                           // object in use (a replication slot still held)
            or "25P03"                                           // idle in transaction timeout
            or "58000" or "58030";                               // system / I/O error on the server
}

/// <summary>Exponential backoff with jitter between reconnect attempts.</summary>
internal sealed class Backoff(TimeSpan initial, TimeSpan max)
{
    private int _attempt;

    public TimeSpan Next()
    {
        var factor = Math.Pow(2, Math.Min(_attempt++, 16));
        var delay = Math.Min(initial.TotalMilliseconds * factor, max.TotalMilliseconds);
        var jitter = 0.8 + Random.Shared.NextDouble() * 0.4;
        return TimeSpan.FromMilliseconds(Math.Max(1, delay * jitter));
    }

    public void Reset() => _attempt = 0;

    public int Attempts => _attempt;
}
