using System.Runtime.CompilerServices;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using PostgresSource.Core.Capture.Reliability;
using PostgresSource.Core.Capture.Snapshots;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Capture.Durable;

/// <summary>The position of a journal change: the capture-wide sequence number and the journal id.</summary>
internal sealed record JournalPosition(object Owner, long Sequence, long JournalId);

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
public sealed class DurableCapture : IChangeCapture
{
    private readonly SourceDefinition _source;
    private readonly CaptureOptions _options;
    private readonly string _name;
    private readonly string _connectionString;
    private readonly ControlConnection _control;
    private readonly SnapshotRunner _snapshot;
    private readonly JournalWindow _window = new();
    private readonly CancellationTokenSource _lifetime = new();
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
    private volatile bool _ready;
    private volatile int _listenerPid;
    private int _started;
    private int _disposed;
    private Task? _listenTask;

    public DurableCapture(SourceDefinition source, ConnectionSettings connection, CaptureOptions? options = null)
    {
        _source = source;
        _options = options ?? CaptureOptions.Default;
        _name = source.DatabaseObjectName;
        var builder = connection.ToBuilder();
        builder.Pooling = false;
        // The poll runs hundreds of times a second under load: prepared, it skips parsing and planning (~0.2 ms each).
        builder.MaxAutoPrepare = 8;
        builder.AutoPrepareMinUsages = 2;
        if (string.IsNullOrEmpty(builder.ApplicationName))
        {
            builder.ApplicationName = _options.ApplicationName;
        }
        _connectionString = builder.ConnectionString;
        _control = new ControlConnection(_connectionString);
        _snapshot = new SnapshotRunner(_name, SnapshotHorizon.JournalId, _options);
    }

    public CaptureMode Mode => CaptureMode.Durable;

    public bool IsReady => _ready;

    public event Action<CaptureNotice>? Notice;

    /// <summary>Server process ids of the capture's connections (reading, wake-up listener), for diagnostics and fault tests.</summary>
    public IReadOnlyList<int> ServerProcessIds =>
        new[] { _control.ProcessId ?? 0, _listenerPid }.Where(p => p != 0).ToList();

    /// <summary>The journal's low-water mark: ids below it can no longer appear (diagnostics).</summary>
    public long LowWaterMark => _window.Low;

    public async IAsyncEnumerable<CapturedChange> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("A capture is read once.");
        }
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _lifetime.Token);
        var token = linked.Token;
        var backoff = _options.ReconnectBackoff();

        await StartAsync(backoff, token).ConfigureAwait(false);
        _listenTask = Task.Run(() => ListenAsync(_listenStop.Token), CancellationToken.None);
        try
        {

            // The initial snapshot, attempt after attempt until every table is read.
            await foreach (var read in SnapshotPhase.RunAsync(_snapshot, _connectionString, this, NextSequence, LastSequence,
                (error, when) => FailedAsync(error, when, backoff, token), token).ConfigureAwait(false))
            {
                yield return read;
            }
            _seam = _snapshot.BuildSeam();
            _snapshot.Acknowledge(Volatile.Read(ref _acknowledged));
            _streaming = true;

            var pacing = new JournalPollPacing(_options.JournalPollInterval);
            Task<Batch>? readAhead = null;
            try
            {
                while (true)
                {
                    token.ThrowIfCancellationRequested();
                    Batch batch;
                    if (readAhead is null)
                    {
                        _wake.Wait(0);
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
                        _wake.Wait(0);
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

    public async ValueTask AcknowledgeAsync(CapturedChange change, CancellationToken cancellationToken)
    {
        var sequence = change.Position switch
        {
            JournalPosition p when ReferenceEquals(p.Owner, this) => p.Sequence,
            ReadPosition p when ReferenceEquals(p.Owner, this) => p.Sequence,
            _ => 0,
        };
        if (sequence == 0 || Volatile.Read(ref _disposed) != 0)
        {
            return;
        }
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
            var progressed = _snapshot.Acknowledge(sequence);
            flush = _pendingDelete.Count >= _options.AcknowledgeFlushCount
                || DateTime.UtcNow - _lastFlush >= _options.AcknowledgeFlushInterval
                || (progressed && _snapshot.Completed);
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
                await _control.UseAsync(FlushAsync, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (TransientErrors.IsTransient(ex))
            {
                // Kept for the next read, which reconnects; until then the rows stay excluded from reads.
            }
        }
    }

    private long NextSequence() => Interlocked.Increment(ref _sequence);

    private long LastSequence() => Interlocked.Read(ref _sequence);

    private async Task StartAsync(Backoff backoff, CancellationToken token)
    {
        try
        {
            await Reconnect.StartAsync(_control, PrepareAsync, _options.RetryInitialConnection,
                (error, when) => FailedAsync(error, when, backoff, token), token).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == "42501")
        {
            throw new CaptureConfigurationException(
                $"The role cannot read source {_source.EventSource}'s journal or state ({ex.MessageText}). Grant it access to schema {_name}, or connect as the role that installed the source.", ex);
        }
        _ready = true;
        backoff.Reset();
    }

    /// <summary>Checks the journal is installed and gets the snapshot ready: the start-up work, on the control connection.</summary>
    private async Task PrepareAsync(NpgsqlConnection connection, CancellationToken token)
    {
        if (!await SourceStateSql.TableExistsAsync(connection, _name, DurableJournalSql.JournalTable, token).ConfigureAwait(false))
        {
            throw new CaptureConfigurationException(
                $"Source {_source.EventSource} has no Durable journal ({_name}.{DurableJournalSql.JournalTable}): install it in Durable mode first.");
        }
        var tables = await TableResolver.ResolveAllAsync(connection, _source.Tables, token).ConfigureAwait(false);
        await _snapshot.PrepareAsync(connection, tables, token).ConfigureAwait(false);
    }

    private Task FailedAsync(Exception error, string when, Backoff backoff, CancellationToken token)
    {
        _ready = false;
        return Reconnect.WaitOutAsync(backoff, delay =>
            $"Durable capture of {_source.EventSource} lost its database connection {when} ({error.Message}); retrying in {delay.TotalSeconds:0.0}s. Nothing is lost: unacknowledged changes stay in the journal.",
            Notice, token);
    }

    private void Raise(string message, bool possibleLoss)
    {
        Notice.RaiseSafely(message, possibleLoss);
    }

    private sealed record Batch(IReadOnlyList<CapturedChange> Changes, bool Truncated);

    private async Task<Batch> PollWithRetryAsync(Backoff backoff, CancellationToken token)
    {
        while (true)
        {
            try
            {
                var batch = await _control.UseAsync(PollAsync, token).ConfigureAwait(false);
                if (!_ready)
                {
                    Raise($"Durable capture of {_source.EventSource} is connected again.", false);
                }
                _ready = true;
                backoff.Reset();
                return batch;
            }
            catch (Exception ex) when (TransientErrors.IsTransient(ex))
            {
                await FailedAsync(ex, "while reading the journal", backoff, token).ConfigureAwait(false);
            }
            catch (PostgresException ex) when (ex.SqlState is "42P01" or "3F000")
            {
                throw new CaptureConfigurationException(
                    $"Source {_source.EventSource}'s Durable journal is gone ({ex.MessageText}): it was uninstalled or switched to another mode.", ex);
            }
        }
    }

    private async Task<Batch> PollAsync(NpgsqlConnection connection, CancellationToken token)
    {
        if (_snapshot.HasDirtyProgress)
        {
            // Only right after the snapshot phase: its last acknowledged progress.
            await _snapshot.FlushAsync(connection, token).ConfigureAwait(false);
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
        var read = await JournalRead.ReadAsync(connection, _name, low, exclude, needsBound, delete,
            _options.BatchSize, _options.MaxBatchBytes, token).ConfigureAwait(false);
        if (delete.Length > 0)
        {
            Deleted(delete.Length);
        }
        var rows = read.Rows;
        var truncated = read.Truncated;

        var changes = new List<CapturedChange>(rows.Count);
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
            changes.Add(new CapturedChange
            {
                Schema = row.Schema,
                Table = row.Table,
                Operation = CapturedChange.ParseAction(row.Operation),
                PayloadJson = row.Payload,
                Id = $"{_name}-{row.Id}",
                TransactionId = row.Txid,
                Position = row.Id, // replaced below, under the lock, with the sequence number
            });
        }

        lock (_lock)
        {
            _window.Observe(read.Snapshot, read.Bound, rows.Select(r => r.Id).ToList(), truncated);
            for (var i = 0; i < changes.Count; i++)
            {
                var id = (long)changes[i].Position!;
                var sequence = NextSequence();
                _inFlight.Enqueue((sequence, id));
                _emitted.Add(id);
                changes[i] = With(changes[i], new JournalPosition(this, sequence, id));
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

    private static CapturedChange With(CapturedChange change, object position) => new()
    {
        Schema = change.Schema,
        Table = change.Table,
        Operation = change.Operation,
        PayloadJson = change.PayloadJson,
        Id = change.Id,
        TransactionId = change.TransactionId,
        Position = position,
    };

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
        if (_snapshot.HasDirtyProgress)
        {
            await _snapshot.FlushAsync(connection, token).ConfigureAwait(false);
        }
        long[] ids;
        lock (_lock)
        {
            ids = _pendingDelete.ToArray();
        }
        if (ids.Length > 0)
        {
            await using var command = new NpgsqlCommand($"DELETE FROM {DurableJournalSql.JournalQualified(_name)} WHERE id = ANY(@ids)", connection);
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
            await ChannelListener.RunAsync(_connectionString, _name, _options.ReconnectBackoff(), new ChannelListenerHandlers
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

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _ready = false;
        _lifetime.Cancel();
        _listenStop.Cancel();
        try
        {
            // What was acknowledged is removed now rather than delivered again by the next reader.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _control.UseAsync(FlushAsync, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException || TransientErrors.IsTransient(ex) || ex is ObjectDisposedException or PostgresException)
        {
        }
        if (_listenTask is not null)
        {
            await _listenTask.ConfigureAwait(false);
        }
        await _control.DisposeAsync().ConfigureAwait(false);
        _lifetime.Dispose();
        _listenStop.Dispose();
    }
}
