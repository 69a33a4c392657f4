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

    // Npgsql's PostgresErrorCodes has no name for this one (PostgreSQL 9.6+).
    private const string IdleInTransactionSessionTimeout = "25P03";

    public static bool IsTransientState(string sqlState) =>
        // Whole classes by their two- or three-character prefix; PostgresErrorCodes names single states only.
        sqlState.StartsWith("08", StringComparison.Ordinal)      // connection exceptions
        || sqlState.StartsWith("53", StringComparison.Ordinal)   // insufficient resources (too many connections, ...)
        || sqlState.StartsWith("57P", StringComparison.Ordinal)  // admin/crash shutdown, cannot connect now
        || sqlState is PostgresErrorCodes.QueryCanceled          // statement timeout
            or PostgresErrorCodes.SerializationFailure
            or PostgresErrorCodes.DeadlockDetected
            or PostgresErrorCodes.ObjectInUse                    // a replication slot still held
            or IdleInTransactionSessionTimeout
            or PostgresErrorCodes.SystemError
            or PostgresErrorCodes.IoError;                       // on the server
}
