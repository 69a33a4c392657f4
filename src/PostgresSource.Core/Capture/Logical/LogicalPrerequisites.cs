using Npgsql;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture.Logical;

/// <summary>Logical mode cannot work on this server or with this role; the message says what to change.</summary>
internal sealed class LogicalReplicationUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Checks what Logical mode needs before anything is planned or streamed.</summary>
internal static class LogicalPrerequisites
{
    public static async Task CheckAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        const string query = """
            SELECT pg_catalog.current_setting('wal_level'),
                   r.rolsuper OR r.rolreplication,
                   pg_catalog.current_setting('max_replication_slots')::int,
                   current_user
            FROM pg_catalog.pg_roles r WHERE r.rolname = current_user
            """;
        await using var command = new NpgsqlCommand(query, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return;
        }
        var walLevel = reader.GetString(0);
        var canReplicate = reader.GetBoolean(1);
        var maxSlots = reader.GetInt32(2);
        var role = reader.GetString(3);
        if (walLevel != "logical")
        {
            throw new LogicalReplicationUnavailableException(
                $"Logical mode needs wal_level = logical, but this server has wal_level = {walLevel}. " +
                "Set wal_level = logical in postgresql.conf (or ALTER SYSTEM SET wal_level = logical) and restart the server, " +
                "or use Durable mode, which needs no server settings.");
        }
        if (!canReplicate)
        {
            throw new LogicalReplicationUnavailableException(
                $"Logical mode needs a role with the REPLICATION attribute, and role '{role}' has none. " +
                $"Run ALTER ROLE {Sql.Identifier(role)} REPLICATION as a superuser, connect as a role that has it, or use Durable mode.");
        }
        if (maxSlots == 0)
        {
            throw new LogicalReplicationUnavailableException(
                "Logical mode needs a replication slot, but max_replication_slots = 0 on this server. Raise it and restart the server.");
        }
    }
}
