using Npgsql;

namespace PostgresSource.Core.Database;

/// <summary>Opening a private connection so that a failed open leaves nothing behind.</summary>
internal static class DatabaseConnection
{
    /// <summary>An open connection; when opening fails, the connection is disposed before the error goes on.</summary>
    public static async Task<NpgsqlConnection> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
