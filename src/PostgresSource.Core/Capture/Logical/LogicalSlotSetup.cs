using Npgsql;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Capture.Logical;

/// <summary>What Logical mode needs from the server before and while streaming: its prerequisites, this source's slot and publication, and the slot free to use.</summary>
internal static class LogicalSlotSetup
{
    /// <summary>Fails with a <see cref="CaptureConfigurationException"/> unless the server can stream this source's slot and publication.</summary>
    public static async Task VerifyAsync(NpgsqlConnection connection, SourceDefinition source, string name, CancellationToken token)
    {
        try
        {
            await LogicalPrerequisites.CheckAsync(connection, token).ConfigureAwait(false);
        }
        catch (LogicalReplicationUnavailableException ex)
        {
            throw new CaptureConfigurationException(ex.Message, ex);
        }
        var slot = await LogicalReplicationInstaller.FindSlotAsync(connection, name, token).ConfigureAwait(false);
        var publication = await LogicalReplicationInstaller.FindPublicationAsync(connection, name, token).ConfigureAwait(false);
        if (slot is null || publication is null)
        {
            throw new CaptureConfigurationException(
                $"Source {source.EventSource} has no {(slot is null ? "replication slot" : "publication")} named {name}: install it in Logical mode first.");
        }
        if (!slot.Value.InThisDatabase || slot.Value.Plugin != LogicalReplicationSql.Plugin)
        {
            throw new CaptureConfigurationException(
                $"Replication slot {name} belongs to database '{slot.Value.Database}' or uses plugin '{slot.Value.Plugin}': it is not this source's.");
        }
    }

    /// <summary>Ends the walsender still holding the slot (a listener that is gone, whose connection the server has not noticed yet).</summary>
    public static async Task EndSlotHolderAsync(NpgsqlConnection connection, string name, CancellationToken token)
    {
        await using var command = new NpgsqlCommand(
            "SELECT pg_catalog.pg_terminate_backend(active_pid) FROM pg_catalog.pg_replication_slots WHERE slot_name = @name AND active_pid IS NOT NULL",
            connection);
        command.Parameters.AddWithValue("name", name);
        await command.ExecuteNonQueryAsync(token).ConfigureAwait(false);
    }
}
