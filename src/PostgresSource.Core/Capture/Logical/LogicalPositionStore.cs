using Npgsql;
using NpgsqlTypes;
using PostgresSource.Core.Capture.Reliability;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture.Logical;

/// <summary>
/// Keeps the confirmed position outside the slot too: PostgreSQL 15 does not always keep a slot's confirmed
/// position across a server restart (it would then start further back: duplicates, never a gap), so the
/// position is also written to the source's state table, at most every
/// <see cref="CaptureOptions.AcknowledgeFlushInterval"/> and when the capture closes. The write runs
/// beside the acknowledging consumer, never in its way: one write at a time, a later one catches up.
/// </summary>
internal sealed class LogicalPositionStore(string name, ControlConnection control, LogicalAcknowledgements acknowledgements, TimeSpan interval)
{
    private readonly object _lock = new();
    private bool _hasTable;
    private ulong _persisted;
    private DateTime _lastWrite = DateTime.UtcNow;
    private bool _busy;
    private Task _writing = Task.CompletedTask;

    /// <summary>
    /// Takes the position recorded by an earlier capture, when it is still this slot's: a slot made again later
    /// starts (restart_lsn) after anything recorded for the one before, so such a record is ignored.
    /// </summary>
    public async Task LoadAsync(NpgsqlConnection connection, CancellationToken token)
    {
        var hasTable = await SourceStateSql.TableExistsAsync(connection, name, SourceStateSql.PositionTable, token).ConfigureAwait(false);
        lock (_lock)
        {
            _hasTable = hasTable;
        }
        if (!hasTable)
        {
            return;
        }
        await using var command = new NpgsqlCommand($"""
            SELECT p.confirmed_lsn::text
            FROM {SourceStateSql.PositionQualified(name)} p
            JOIN pg_catalog.pg_replication_slots s ON s.slot_name = @name
            WHERE p.confirmed_lsn >= s.restart_lsn
            """, connection);
        command.Parameters.AddWithValue("name", name);
        if (await command.ExecuteScalarAsync(token).ConfigureAwait(false) is string text)
        {
            var recorded = (ulong)NpgsqlLogSequenceNumber.Parse(text);
            acknowledgements.Restore(recorded);
            lock (_lock)
            {
                _persisted = Math.Max(_persisted, recorded);
            }
        }
    }

    /// <summary>Starts a write of the confirmed position when one is due and none is running; does not wait for it.</summary>
    public void WriteSoon(CancellationToken token)
    {
        ulong confirmed;
        lock (_lock)
        {
            if (_busy || !Due(force: false, out confirmed))
            {
                return;
            }
            _busy = true;
        }
        var writing = StartWrite(confirmed, token);
        lock (_lock)
        {
            _writing = writing;
        }
    }

    // On the thread pool: the consumer that acknowledged goes straight on to its next event. (A method of its
    // own so that the lambda's closure is only allocated when a write starts, not on every acknowledgement.)
    private Task StartWrite(ulong confirmed, CancellationToken token) => Task.Run(() => WriteAsync(confirmed, token), CancellationToken.None);

    /// <summary>Waits for a running write, then writes the confirmed position if it is newer than the recorded one (when the capture closes).</summary>
    public async Task WriteNowAsync(CancellationToken token)
    {
        Task running;
        lock (_lock)
        {
            running = _writing;
        }
        await running.ConfigureAwait(false);
        ulong confirmed;
        lock (_lock)
        {
            if (!Due(force: true, out confirmed))
            {
                return;
            }
        }
        await WriteAsync(confirmed, token, throwOnFailure: true).ConfigureAwait(false);
    }

    /// <summary>
    /// Acknowledgements that came after the stream closed never reached the server: moves the slot there
    /// directly (once the walsender has let go of it), so the next reader does not get them again.
    /// </summary>
    public async Task AdvanceSlotAsync(CancellationToken token)
    {
        var confirmed = acknowledgements.Confirmed;
        if (confirmed == 0)
        {
            return;
        }
        var lsn = new NpgsqlLogSequenceNumber(confirmed).ToString();
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var state = await control.UseAsync(async (connection, t) =>
            {
                await using var command = new NpgsqlCommand(
                    "SELECT active, confirmed_flush_lsn >= @lsn::pg_lsn FROM pg_catalog.pg_replication_slots WHERE slot_name = @name", connection);
                command.Parameters.AddWithValue("name", name);
                command.Parameters.AddWithValue("lsn", lsn);
                await using var reader = await command.ExecuteReaderAsync(t).ConfigureAwait(false);
                return await reader.ReadAsync(t).ConfigureAwait(false) ? (Active: reader.GetBoolean(0), Done: reader.GetBoolean(1)) : (Active: false, Done: true);
            }, token).ConfigureAwait(false);
            if (state.Done)
            {
                return;
            }
            if (!state.Active)
            {
                await control.UseAsync(async (connection, t) =>
                {
                    await using var command = new NpgsqlCommand("SELECT pg_catalog.pg_replication_slot_advance(@name, @lsn::pg_lsn)", connection);
                    command.Parameters.AddWithValue("name", name);
                    command.Parameters.AddWithValue("lsn", lsn);
                    await command.ExecuteNonQueryAsync(t).ConfigureAwait(false);
                }, token).ConfigureAwait(false);
                return;
            }
            await Task.Delay(100, token).ConfigureAwait(false);
        }
    }

    private bool Due(bool force, out ulong confirmed)
    {
        confirmed = acknowledgements.Confirmed;
        if (!_hasTable || confirmed <= _persisted || (!force && DateTime.UtcNow - _lastWrite < interval))
        {
            return false;
        }
        _lastWrite = DateTime.UtcNow;
        return true;
    }

    private async Task WriteAsync(ulong confirmed, CancellationToken token, bool throwOnFailure = false)
    {
        try
        {
            await control.UseAsync(async (connection, t) =>
            {
                await using var command = new NpgsqlCommand($"""
                    INSERT INTO {SourceStateSql.PositionQualified(name)} (only_row, confirmed_lsn, updated)
                    VALUES (true, @lsn::pg_lsn, pg_catalog.now())
                    ON CONFLICT (only_row) DO UPDATE
                    SET confirmed_lsn = GREATEST({SourceStateSql.PositionQualified(name)}.confirmed_lsn, excluded.confirmed_lsn), updated = excluded.updated
                    """, connection);
                command.Parameters.AddWithValue("lsn", new NpgsqlLogSequenceNumber(confirmed).ToString());
                await command.ExecuteNonQueryAsync(t).ConfigureAwait(false);
            }, token).ConfigureAwait(false);
            lock (_lock)
            {
                _persisted = Math.Max(_persisted, confirmed);
            }
        }
        catch (Exception ex) when (!throwOnFailure && (ex is OperationCanceledException or ObjectDisposedException || TransientErrors.IsTransient(ex)))
        {
            // Written with a later acknowledgement; until then a restart repeats some changes (never skips one).
        }
        finally
        {
            lock (_lock)
            {
                _busy = false;
            }
        }
    }
}
