using Npgsql;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Capture.Durable;

namespace PostgresSource.Core.Listening;

/// <summary>What a source's database holds that no sink has acknowledged yet.</summary>
/// <param name="JournalRows">Durable: rows in the journal (exact up to 100,000, then the planner's estimate).</param>
/// <param name="RetainedWalBytes">Logical: WAL the slot keeps on the server's disk (from its restart position).</param>
/// <param name="SlotLagBytes">Logical: WAL written after the slot's confirmed position (what is not acknowledged).</param>
/// <param name="NotificationQueueUsage">Notify: the share of the server's notification queue in use (0..1).</param>
internal sealed record Backlog(long? JournalRows = null, long? RetainedWalBytes = null, long? SlotLagBytes = null, double? NotificationQueueUsage = null);

/// <summary>
/// Reads a source's <see cref="Backlog"/> on a short-lived connection of its own (never the capture's), for
/// metrics and progress. One small query per call; callers poll it every few seconds.
/// </summary>
internal sealed class BacklogProbe(SourceDefinition source, ConnectionSettings connection)
{
    private const long ExactCountLimit = 100_000;

    private readonly string _connectionString = connection.ToPrivateConnectionString("PostgresSource backlog");

    public async Task<Backlog> ReadAsync(CancellationToken cancellationToken)
    {
        await using var database = new NpgsqlConnection(_connectionString);
        await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var name = source.DatabaseObjectName;
        switch (source.Mode)
        {
            case CaptureMode.Durable:
            {
                var sql = $"""
                    SELECT CASE WHEN counted < @limit THEN counted
                                ELSE greatest(counted, (SELECT reltuples::bigint FROM pg_catalog.pg_class WHERE oid = pg_catalog.to_regclass(@journal))) END
                    FROM (SELECT count(*) AS counted FROM (SELECT 1 FROM {DurableJournalSql.JournalQualified(name)} LIMIT @limit) pending) total
                    """;
                await using var command = new NpgsqlCommand(sql, database);
                command.Parameters.AddWithValue("limit", ExactCountLimit);
                command.Parameters.AddWithValue("journal", DurableJournalSql.JournalQualified(name));
                return new Backlog(JournalRows: (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!);
            }
            case CaptureMode.Logical:
            {
                const string sql = """
                    SELECT pg_catalog.pg_wal_lsn_diff(w.lsn, restart_lsn)::bigint, pg_catalog.pg_wal_lsn_diff(w.lsn, confirmed_flush_lsn)::bigint
                    FROM pg_catalog.pg_replication_slots,
                         LATERAL (SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn() ELSE pg_catalog.pg_current_wal_lsn() END AS lsn) w
                    WHERE slot_name = @slot
                    """;
                await using var command = new NpgsqlCommand(sql, database);
                command.Parameters.AddWithValue("slot", name);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
                    ? new Backlog(RetainedWalBytes: reader.IsDBNull(0) ? null : reader.GetInt64(0), SlotLagBytes: reader.IsDBNull(1) ? null : reader.GetInt64(1))
                    : new Backlog();
            }
            default:
            {
                await using var command = new NpgsqlCommand("SELECT pg_catalog.pg_notification_queue_usage()", database);
                return new Backlog(NotificationQueueUsage: (double)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!);
            }
        }
    }
}
