using System.Net.Sockets;
using Npgsql;

namespace PostgresSource.Core.Database;

/// <summary>Which database failures are ridden out by reconnecting, and which are reported as errors retrying cannot fix.</summary>
internal static class TransientErrors
{
    /// <summary>
    /// True for the network, a server shutting down or starting up, too many connections, a held replication
    /// slot; false for bad credentials, a missing database or table, permissions and every other SQL error.
    /// </summary>
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
