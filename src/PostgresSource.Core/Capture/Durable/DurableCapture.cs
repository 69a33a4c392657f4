using System.Runtime.CompilerServices;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture.Reliability;
using PostgresSource.Core.Capture.Snapshots;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Capture.Durable;

/// <summary>The position of a journal change: the capture-wide sequence number and the journal id.</summary>
internal sealed record JournalPosition(PositionIssuer Issuer, long Sequence, long JournalId) : SequencedPosition(Issuer, Sequence);

/// <summary>
/// Durable mode: reads the source's journal (see <see cref="DurableJournalSql"/>), polling it as
/// <see cref="JournalPollPacing"/> says; a NOTIFY on the source's channel (sent by journals of earlier versions)
/// still wakes it at once.
/// Rows stay in the journal until the consumer acknowledges them and are then deleted, so nothing is lost
/// when the listener dies, the connection drops or the server restarts: the next reader gets every row not
/// acknowledged (some perhaps again: at least once). Rows of transactions that commit late, with smaller
/// ids than rows already read, are found because the reader never moves past an id that may still commit
/// (<see cref="JournalWindow"/>). Changes come in journal order (the order the writes happened), each
/// transaction's in its own order; the id of a change is "&lt;object name&gt;-&lt;journal id&gt;".
/// </summary>
internal sealed class DurableCapture : ReliableCapture
{
    private readonly JournalWindow _window = new();
    private readonly CancellationTokenSource _listenStop = new();
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly object _lock = new();
    private readonly Queue<(long Sequence, long Id)> _inFlight = new();
    private readonly List<long> _pendingDelete = [];
    private readonly HashSet<long> _emitted = [];
    private SnapshotSeam _seam = SnapshotSeam.None;
    private long _sequence;
    private long _acknowledged;
    private DateTime _lastFlush = DateTime.UtcNow;
    private volatile bool _streaming;
    private volatile int _listenerPid;
    private Task? _listenTask;

    public DurableCapture(SourceDefinition source, ConnectionSettings connection, CaptureOptions? options = null)
        : base(source, connection, options, SnapshotHorizon.JournalId, builder =>
        {
            // The poll runs hundreds of times a second under load: prepared, it skips parsing and planning (~0.2 ms each).
            builder.MaxAutoPrepare = 8;
            builder.AutoPrepareMinUsages = 2;
        })
    {
    }

    public override CaptureMode Mode => CaptureMode.Durable;

    /// <summary>Server process ids of the capture's connections (reading, wake-up listener), for diagnostics and fault tests.</summary>
    public IReadOnlyList<int> ServerProcessIds =>
        new[] { Control.ProcessId ?? 0, _listenerPid }.Where(p => p != 0).ToList();

    /// <summary>The journal's low-water mark: ids below it can no longer appear (diagnostics).</summary>
    public long LowWaterMark => _window.Low;

    private protected override async IAsyncEnumerable<CapturedChange> StreamAsync(Backoff backoff, [EnumeratorCancellation] CancellationToken token)
    {
        _listenTask = Task.Run(() => ListenAsync(_listenStop.Token), CancellationToken.None);
        try
        {

            // The initial snapshot, attempt after attempt until every table is read.
            await foreach (var read in SnapshotAsync(NextSequence, LastSequence, backoff, token).ConfigureAwait(false))
            {
                yield return read;
            }
            _seam = Snapshot.BuildSeam();
            Snapshot.Acknowledge(Volatile.Read(ref _acknowledged));
            _streaming = true;

            var pacing = new JournalPollPacing(Options.JournalPollInterval);
            Task<Batch>? readAhead = null;
            var backfillChecked = DateTime.UtcNow;
            try
            {
                while (true)
                {
                    token.ThrowIfCancellationRequested();
                    if (readAhead is null && DateTime.UtcNow - backfillChecked >= Options.BackfillCheckInterval)
                    {
                        // Between two reads, nothing read ahead: a backfill holds the stream here and goes on after it.
                        backfillChecked = DateTime.UtcNow;
                        var backfilled = false;
                        await foreach (var read in BackfillAsync(NextSequence, LastSequence, backoff, token).ConfigureAwait(false))
                        {
                            backfilled = true;
                            yield return read;
                        }
                        if (backfilled)
                        {
                            // The seam learns what the backfill's snapshot holds; unchanged otherwise.
                            _seam = Snapshot.BuildSeam();
                        }
                    }
                    Batch batch;
                    if (readAhead is null)
                    {
                        _wake.Wait(0, CancellationToken.None);
                        batch = await PollWithRetryAsync(backoff, token).ConfigureAwait(false);
                    }
                    else
                    {
                        batch = await readAhead.ConfigureAwait(false);
                        readAhead = null;
                    }
                    if (batch.Truncated)
                    {
                        // More rows wait: read the next batch while this one is delivered, so a backlog never
                        // leaves the listener's queue empty for a round trip (reads stay one at a time, in order).
                        _wake.Wait(0, CancellationToken.None);
                        readAhead = PollWithRetryAsync(backoff, token);
                    }
                    foreach (var change in batch.Changes)
                    {
                        yield return change;
                    }
                    if (readAhead is null)
                    {
                        await _wake.WaitAsync(pacing.After(foundRows: batch.Changes.Count > 0), token).ConfigureAwait(false);
                    }
                }
            }
            finally
            {
                await ObserveAsync(readAhead).ConfigureAwait(false);
            }
        }
        finally
        {
            // The wake-up listener lives as long as the reading: stop it however the reading ends.
            _listenStop.Cancel();
        }
    }

    /// <summary>A read-ahead left behind when the reading stops: waited for, so the connection is free, and its outcome dropped.</summary>
    private static async Task ObserveAsync(Task<Batch>? readAhead)
    {
        if (readAhead is null)
        {
            return;
        }
        try
        {
            await readAhead.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The reading is over (cancelled or failed): the rows it read stay unacknowledged in the journal.
        }
    }

    private protected override async ValueTask AcknowledgeAsync(long sequence, CancellationToken cancellationToken)
    {
        bool flush;
        lock (_lock)
        {
            if (sequence <= _acknowledged)
            {
                return;
            }
            _acknowledged = sequence;
            while (_inFlight.TryPeek(out var head) && head.Sequence <= sequence)
            {
                _inFlight.Dequeue();
                _pendingDelete.Add(head.Id);
            }
            var progressed = Snapshot.Acknowledge(sequence);
            flush = _pendingDelete.Count >= Options.AcknowledgeFlushCount
                || DateTime.UtcNow - _lastFlush >= Options.AcknowledgeFlushInterval
                || (progressed && Snapshot.Completed);
        }
        if (flush && _streaming)
        {
            // The reader's next poll deletes them in its own round trip: acknowledging never waits for a poll.
            lock (_lock)
            {
                _lastFlush = DateTime.UtcNow;
            }
            Wake();
        }
        else if (flush)
        {
            // The snapshot phase reads on a connection of its own: progress is written here.
            try
            {
                await Control.UseAsync(FlushAsync, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (TransientErrors.IsTransient(ex))
            {
                // Kept for the next read, which reconnects; until then the rows stay excluded from reads.
            }
        }
    }

    private long NextSequence() => Interlocked.Increment(ref _sequence);

    private long LastSequence() => Interlocked.Read(ref _sequence);

    private protected override bool ReadyAfterStart => true;

    private protected override Exception? StartFailure(PostgresException error) => error.SqlState == PostgresErrorCodes.InsufficientPrivilege
        ? new CaptureConfigurationException(
            $"The role cannot read source {Source.EventSource}'s journal or state ({error.MessageText}). Grant it access to schema {Name}, or connect as the role that installed the source.", error)
        : null;

    /// <summary>Checks the journal is installed and gets the snapshot ready: the start-up work, on the control connection.</summary>
    private protected override async Task PrepareAsync(NpgsqlConnection connection, CancellationToken token)
    {
        if (!await SourceStateSql.TableExistsAsync(connection, Name, DurableJournalSql.JournalTable, token).ConfigureAwait(false))
        {
            throw new CaptureConfigurationException(
                $"Source {Source.EventSource} has no Durable journal ({Name}.{DurableJournalSql.JournalTable}): install it in Durable mode first.");
        }
        var tables = await SourceFilters.ResolveAsync(connection, Source, token, check: false).ConfigureAwait(false);
        await Snapshot.PrepareAsync(connection, tables, token).ConfigureAwait(false);
    }

    private protected override string LostConnectionNotice(Exception error, string when, TimeSpan delay) =>
        $"Durable capture of {Source.EventSource} lost its database connection {when} ({error.Message}); retrying in {delay.TotalSeconds:0.0}s. Nothing is lost: unacknowledged changes stay in the journal.";

    private sealed record Batch(IReadOnlyList<CapturedChange> Changes, bool Truncated);

    private async Task<Batch> PollWithRetryAsync(Backoff backoff, CancellationToken token)
    {
        while (true)
        {
            try
            {
                var batch = await Control.UseAsync(PollAsync, token).ConfigureAwait(false);
                if (!Ready)
                {
                    Raise($"Durable capture of {Source.EventSource} is connected again.", false);
                }
                Ready = true;
                backoff.Reset();
                return batch;
            }
            catch (Exception ex) when (TransientErrors.IsTransient(ex))
            {
                await FailedAsync(ex, "while reading the journal", backoff, token).ConfigureAwait(false);
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.InvalidSchemaName)
            {
                throw new CaptureConfigurationException(
                    $"Source {Source.EventSource}'s Durable journal is gone ({ex.MessageText}): it was uninstalled or switched to another mode.", ex);
            }
        }
    }

    private async Task<Batch> PollAsync(NpgsqlConnection connection, CancellationToken token)
    {
        if (Snapshot.HasDirtyProgress)
        {
            // Only right after the snapshot phase: its last acknowledged progress.
            await Snapshot.FlushAsync(connection, token).ConfigureAwait(false);
        }

        long low;
        long[] exclude;
        long[] delete;
        bool needsBound;
        lock (_lock)
        {
            low = _window.Low;
            needsBound = _window.NeedsBound;
            exclude = _emitted.Where(id => id >= low).ToArray();
            delete = _pendingDelete.ToArray();
        }

        // One round trip: snapshot, bound, rows, and the delete of acknowledged rows.
        var read = await JournalRead.ReadAsync(connection, Name, low, exclude, needsBound, delete,
            Options.BatchSize, Options.MaxBatchBytes, token).ConfigureAwait(false);
        if (delete.Length > 0)
        {
            Deleted(delete.Length);
        }
        var rows = read.Rows;
        var truncated = read.Truncated;

        var changes = new List<CapturedChange>(rows.Count);
        // The journal id of each change, for its position (made below, under the lock, with the sequence number).
        var ids = new List<long>(rows.Count);
        var suppressed = new List<long>();
        foreach (var row in rows)
        {
            var xid = ulong.Parse(row.Txid, System.Globalization.CultureInfo.InvariantCulture);
            var decision = _seam.Classify(row.Schema, row.Table, (ulong)row.Id, _ => xid);
            if (decision == SnapshotSeam.Decision.ByKey)
            {
                var (data, old) = RowsOf(row.Payload);
                decision = await _seam.SuppressByKeyAsync(connection, row.Schema, row.Table, _ => xid, [data, old], token).ConfigureAwait(false)
                    ? SnapshotSeam.Decision.Suppress
                    : SnapshotSeam.Decision.Emit;
            }
            if (decision == SnapshotSeam.Decision.Suppress)
            {
                suppressed.Add(row.Id);
                continue;
            }
            changes.Add(row.ToChange(Name));
            ids.Add(row.Id);
        }

        lock (_lock)
        {
            _window.Observe(read.Snapshot, read.Bound, rows.Select(r => r.Id).ToList(), truncated);
            for (var i = 0; i < changes.Count; i++)
            {
                var id = ids[i];
                var sequence = NextSequence();
                _inFlight.Enqueue((sequence, id));
                _emitted.Add(id);
                changes[i] = changes[i] with { Position = new JournalPosition(Issuer, sequence, id) };
            }
            foreach (var id in suppressed)
            {
                // Already in the snapshot's Reads: never delivered, removed like an acknowledged row.
                _pendingDelete.Add(id);
                _emitted.Add(id);
            }
        }
        return new Batch(changes, truncated);
    }

    private static (string? Data, string? Old) RowsOf(string payload)
    {
        using var document = JsonDocument.Parse(payload);
        var root = document.RootElement;
        string? Raw(string name) => root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Object ? value.GetRawText() : null;
        return (Raw("data"), Raw("old"));
    }

    /// <summary>Deletes acknowledged rows and writes snapshot progress. Runs on the control connection.</summary>
    private async Task FlushAsync(NpgsqlConnection connection, CancellationToken token)
    {
        if (Snapshot.HasDirtyProgress)
        {
            await Snapshot.FlushAsync(connection, token).ConfigureAwait(false);
        }
        long[] ids;
        lock (_lock)
        {
            ids = _pendingDelete.ToArray();
        }
        if (ids.Length > 0)
        {
            await using var command = new NpgsqlCommand($"DELETE FROM {DurableJournalSql.JournalQualified(Name)} WHERE id = ANY(@ids)", connection);
            command.Parameters.AddWithValue("ids", NpgsqlDbType.Array | NpgsqlDbType.Bigint, ids);
            await command.ExecuteNonQueryAsync(token).ConfigureAwait(false);
            Deleted(ids.Length);
        }
        lock (_lock)
        {
            _lastFlush = DateTime.UtcNow;
        }
    }

    /// <summary>The first <paramref name="count"/> pending deletes are done: those ids can no longer be read, so stop excluding them.</summary>
    private void Deleted(int count)
    {
        lock (_lock)
        {
            foreach (var id in _pendingDelete.Take(count))
            {
                _emitted.Remove(id);
            }
            _pendingDelete.RemoveRange(0, count);
        }
    }

    /// <summary>The wake-up: a NOTIFY on the source's channel reads the journal at once. Best effort: the poll reads it anyway.</summary>
    private async Task ListenAsync(CancellationToken token)
    {
        try
        {
            await ChannelListener.RunAsync(ConnectionString, Name, Options.ReconnectBackoff(), new ChannelListenerHandlers
            {
                Payload = _ => Wake(),
                // The sweep still reads the journal meanwhile; only the prompt wake-up is missing: always try again.
                RetryConnect = (_, _) => true,
                RetryLost = _ => true,
                ConnectFailed = (_, _, _) => _listenerPid = 0,
                Connected = (connection, _) =>
                {
                    _listenerPid = connection.ProcessID;
                    // Whatever was written while this connection was down is found by this read.
                    Wake();
                },
                Lost = _ => _listenerPid = 0,
                WaitAfterLoss = true,
            }, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    private void Wake()
    {
        if (_wake.CurrentCount > 0)
        {
            // Already signalled: the common case under load, kept free of a thrown exception.
            return;
        }
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
        }
    }

    private protected override TimeSpan CloseFlushTimeout => TimeSpan.FromSeconds(2);

    private protected override void Stopping() => _listenStop.Cancel();

    // What was acknowledged is removed now rather than delivered again by the next reader.
    private protected override Task FlushOnCloseAsync(CancellationToken token) => Control.UseAsync(FlushAsync, token);

    private protected override async ValueTask StoppedAsync()
    {
        if (_listenTask is not null)
        {
            await _listenTask.ConfigureAwait(false);
        }
        _listenStop.Dispose();
    }
}
