using Npgsql;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Capture.Durable;

namespace PostgresSource.Core.Database;

/// <summary>The plain-language account of a mode switch: from what, to what, and what is lost.</summary>
internal static class ModeSwitchNotes
{
    public static async Task<IReadOnlyList<string>> DescribeAsync(
        NpgsqlConnection connection, SourceDefinition source, CaptureMode mode, IReadOnlyList<CaptureMode> removed, bool installs,
        CancellationToken cancellationToken)
    {
        var name = source.DatabaseObjectName;
        var notes = new List<string>();
        if (removed.Count == 0 && !installs)
        {
            notes.Add($"Source {source.EventSource} is already in {mode} mode; nothing to switch.");
            return notes;
        }
        notes.Add(removed.Count == 0
            ? $"Source {source.EventSource} has no capture objects yet: installing {mode} mode."
            : $"Switching source {source.EventSource} from {string.Join(" and ", removed)} to {mode} mode: the {string.Join(" and ", removed)} objects are removed and the {mode} objects installed.");

        if (removed.Contains(CaptureMode.Durable)
            && await SourceStateSql.TableExistsAsync(connection, name, DurableJournalSql.JournalTable, cancellationToken).ConfigureAwait(false))
        {
            await using var command = new NpgsqlCommand($"SELECT count(*) FROM {DurableJournalSql.JournalQualified(name)}", connection);
            var pending = (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            if (pending > 0)
            {
                notes.Add($"The Durable journal holds {pending} change(s) no listener has acknowledged yet; they are dropped with it and will not be delivered.");
            }
        }
        if (removed.Contains(CaptureMode.Logical))
        {
            await using var command = new NpgsqlCommand("""
                SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn)::bigint
                FROM pg_catalog.pg_replication_slots WHERE slot_name = @name
                """, connection);
            command.Parameters.AddWithValue("name", name);
            if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long behind && behind > 0)
            {
                notes.Add($"The replication slot is {behind} bytes of WAL behind the server; changes in them that no listener acknowledged are dropped with it.");
            }
        }
        notes.Add(mode switch
        {
            CaptureMode.Notify => "Notify mode is at most once: changes made while no listener runs are not captured.",
            CaptureMode.Durable => "Durable mode is at least once: changes wait in the source's journal until a listener acknowledges them.",
            _ => "Logical mode is at least once: changes wait in the replication slot until a listener acknowledges them; the server keeps WAL for them.",
        });
        notes.Add("Restart this source's listeners in the new mode: a running listener keeps reading the old mode's objects.");
        return notes;
    }
}
