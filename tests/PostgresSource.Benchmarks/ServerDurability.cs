using Npgsql;

namespace PostgresSource.Benchmarks;

/// <summary>
/// Switches the benchmark server between the tests' fast settings (fsync and full_page_writes off: every
/// commit costs only CPU, the harshest case for a trigger's overhead) and PostgreSQL's defaults (both on:
/// commits wait for the disk, as on any production server). Both settings reload without a restart.
/// </summary>
internal static class ServerDurability
{
    public static async Task SetAsync(string connectionString, bool durable)
    {
        var value = durable ? "on" : "off";
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        foreach (var setting in new[] { "fsync", "full_page_writes" })
        {
            // ALTER SYSTEM takes no parameters; the names and values are fixed above.
            await using var alter = new NpgsqlCommand($"ALTER SYSTEM SET {setting} = {value}", connection);
            await alter.ExecuteNonQueryAsync();
        }
        await using (var reload = new NpgsqlCommand("SELECT pg_catalog.pg_reload_conf()", connection))
        {
            await reload.ExecuteScalarAsync();
        }
        // The postmaster signals the backends; a new session sees the new value once they reloaded.
        for (var attempt = 0; attempt < 50; attempt++)
        {
            await using var probe = new NpgsqlConnection(connectionString);
            await probe.OpenAsync();
            await using var show = new NpgsqlCommand("SHOW fsync", probe);
            if ((string)(await show.ExecuteScalarAsync())! == value)
            {
                return;
            }
            await Task.Delay(100);
        }
        throw new InvalidOperationException($"The server did not take fsync = {value}.");
    }
}
