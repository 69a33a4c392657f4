using System.Net.Sockets;
using Npgsql;

namespace PostgresSource.Core.Database;

/// <summary>Which database errors are worth retrying.</summary>
public static class TransientErrors
{
    /// <summary>
    /// True for the network, a server shutting down or starting up, too many connections; false for
    /// bad credentials, a missing database or table, permissions and every other SQL error.
    /// </summary>
    public static bool IsTransient(Exception exception) => exception switch
    {
        PostgresException pg => pg.SqlState.StartsWith("08", StringComparison.Ordinal)
                                || pg.SqlState.StartsWith("53", StringComparison.Ordinal)
                                || pg.SqlState.StartsWith("57", StringComparison.Ordinal)
                                || pg.SqlState.StartsWith("58", StringComparison.Ordinal),
        NpgsqlException => true,
        IOException or SocketException or TimeoutException => true,
        _ => false,
    };
}
