using System.Diagnostics;
using Npgsql;
using PostgresSource.Core.Connections;

namespace PostgresSource.Core.Database;

/// <summary>What a connection test found. <see cref="Reason"/> never contains the password.</summary>
internal sealed record ConnectionTestResult
{
    public required bool Success { get; init; }
    public required string Target { get; init; }
    public string? ServerVersion { get; init; }
    public string? Database { get; init; }
    public string? User { get; init; }
    public string? WalLevel { get; init; }
    public bool CanReplicate { get; init; }
    public TimeSpan Elapsed { get; init; }
    public string? Reason { get; init; }
    /// <summary>The failure class: Authentication, Connection, Timeout, Configuration, or null.</summary>
    public string? FailureKind { get; init; }
}

/// <summary>Opens a connection, runs one query, and explains failures in words a DBA acts on.</summary>
internal static class ConnectionTester
{
    public static async Task<ConnectionTestResult> TestAsync(
        ConnectionSettings connection, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var builder = connection.ToBuilder();
        builder.Timeout = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds));
        var stopwatch = Stopwatch.StartNew();
        try
        {
            await using var npgsql = new NpgsqlConnection(builder.ConnectionString);
            await npgsql.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(
                "SELECT pg_catalog.current_setting('server_version'), pg_catalog.current_database(), current_user, " +
                "pg_catalog.current_setting('wal_level'), (SELECT rolreplication OR rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)",
                npgsql);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            return new ConnectionTestResult
            {
                Success = true,
                Target = connection.ToDisplayString(),
                ServerVersion = reader.GetString(0),
                Database = reader.GetString(1),
                User = reader.GetString(2),
                WalLevel = reader.GetString(3),
                CanReplicate = !reader.IsDBNull(4) && reader.GetBoolean(4),
                Elapsed = stopwatch.Elapsed,
            };
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException or System.Net.Sockets.SocketException or ArgumentException)
        {
            var (kind, reason) = Explain(ex);
            return new ConnectionTestResult
            {
                Success = false,
                Target = connection.ToDisplayString(),
                Elapsed = stopwatch.Elapsed,
                Reason = reason,
                FailureKind = kind,
            };
        }
    }

    /// <summary>A failure class and a message without secrets, for any exception from opening a connection.</summary>
    public static (string Kind, string Reason) Explain(Exception ex)
    {
        switch (ex)
        {
            case PostgresException pg when pg.SqlState is PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification:
                return ("Authentication", $"The server refused the login ({pg.SqlState}): {pg.MessageText}");
            case PostgresException pg when pg.SqlState == PostgresErrorCodes.InvalidCatalogName:
                return ("Configuration", $"The database does not exist: {pg.MessageText}");
            case PostgresException pg:
                return ("Connection", $"The server answered with an error ({pg.SqlState}): {pg.MessageText}");
            case OperationCanceledException:
                return ("Timeout", "The test was cancelled.");
            case TimeoutException:
            case NpgsqlException { InnerException: TimeoutException }:
                return ("Timeout", "The server did not answer in time.");
            case NpgsqlException { InnerException: System.Net.Sockets.SocketException socket }:
                return ("Connection", $"Cannot reach the server: {socket.Message}");
            // Npgsql's "No password has been provided ..." has no SqlState and no type of its own: only its text tells.
            case NpgsqlException npgsql when npgsql.Message.Contains("password", StringComparison.OrdinalIgnoreCase):
                return ("Authentication", "The server asked for a password and none was given.");
            case NpgsqlException npgsql:
                return ("Connection", npgsql.InnerException?.Message ?? npgsql.Message);
            default:
                return ("Connection", ex.Message);
        }
    }
}
