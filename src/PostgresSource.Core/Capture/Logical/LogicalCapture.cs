using System.Runtime.CompilerServices;
using System.Text.Json;
using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;
using NpgsqlTypes;
using PostgresSource.Core.Capture.Reliability;
using PostgresSource.Core.Capture.Snapshots;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Capture.Logical;

/// <summary>The position of a streamed change: the capture-wide sequence number.</summary>
internal sealed record LogicalPosition(object Owner, long Sequence, ulong CommitLsn, int Index);

/// <summary>
/// Logical mode: streams the source's pgoutput slot (publication and slot named by the object name) with
/// Npgsql's logical replication API. The server is told a position only once the consumer acknowledged
/// every change of every transaction before it, so after a crash or restart the stream resumes there and
/// a partly acknowledged transaction comes again whole (at least once). While nothing is outstanding the
/// confirmed position follows the server's WAL (keepalives, transactions without changes for this
/// publication), so an idle source does not hold WAL back. Changes come in commit order and carry the
/// transaction id, the commit LSN and the commit time; the id of a change is
/// "&lt;object name&gt;-&lt;commit LSN, 16 hex digits&gt;-&lt;index in its transaction&gt;".
/// </summary>
public sealed class LogicalCapture : IChangeCapture
{
    private sealed class Transaction
    {
        public uint Xid;
        public ulong CommitLsn;
        public DateTimeOffset CommitTime;
        public int Index;
    }

    private readonly SourceDefinition _source;
    private readonly ReliableCaptureOptions _options;
    private readonly string _name;
    private readonly string _connectionString;
    private readonly string _replicationConnectionString;
    private readonly ControlConnection _control;
    private readonly SnapshotRunner _snapshot;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly object _lock = new();
    private readonly Queue<(long LastSequence, ulong End)> _committed = new();
    private SnapshotSeam _seam = SnapshotSeam.None;
    private Transaction? _transaction;
    private LogicalReplicationConnection? _replication;
    private Task<bool>? _pendingMove;
    private long _sequence;
    private long _acknowledged;
    private ulong _confirmed;
    private ulong _persisted;
    private bool _hasPositionTable;
    private DateTime _lastPersist = DateTime.UtcNow;
    private DateTime _lastFlush = DateTime.UtcNow;
    private volatile bool _ready;
    private int _started;
    private int _disposed;

    public LogicalCapture(SourceDefinition source, ConnectionSettings connection, ReliableCaptureOptions? options = null)
    {
        _source = source;
        _options = options ?? ReliableCaptureOptions.Default;
        _name = source.DatabaseObjectName;
        var builder = connection.ToBuilder();
        builder.Pooling = false;
        if (string.IsNullOrEmpty(builder.ApplicationName))
        {
            builder.ApplicationName = _options.ApplicationName;
        }
        _connectionString = builder.ConnectionString;
        // A cancelled read waits this long for the server's answer before the connection is closed.
        builder.CancellationTimeout = 1000;
        _replicationConnectionString = builder.ConnectionString;
        _control = new ControlConnection(_connectionString);
        _snapshot = new SnapshotRunner(_name, SnapshotHorizon.WalLsn, _options);
    }

    public CaptureMode Mode => CaptureMode.Logical;

    public bool IsReady => _ready;

    public event Action<CaptureNotice>? Notice;

    /// <summary>The walsender's process id while streaming (diagnostics and fault tests).</summary>
    public int? WalSenderProcessId => _replication?.ProcessID;

    /// <summary>The last position sent to the server as flushed (diagnostics).</summary>
    public NpgsqlLogSequenceNumber ConfirmedLsn
    {
        get
        {
            lock (_lock)
            {
                return new NpgsqlLogSequenceNumber(_confirmed);
            }
        }
    }

    public async IAsyncEnumerable<CapturedChange> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("A capture is read once.");
        }
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _lifetime.Token);
        var token = linked.Token;
        var backoff = new Backoff(_options.InitialReconnectDelay, _options.MaxReconnectDelay);

        await StartAsync(backoff, token).ConfigureAwait(false);

        await foreach (var read in SnapshotPhase.RunAsync(_snapshot, _connectionString, this, NextSequence, LastSequence,
            (error, when) => FailedAsync(error, when, backoff, token), token).ConfigureAwait(false))
        {
            yield return read;
        }
        _seam = _snapshot.BuildSeam();
        lock (_lock)
        {
            _snapshot.Acknowledge(_acknowledged);
        }
        if (_snapshot.HasDirtyProgress)
        {
            await Guard.RunAsync(() => _control.UseAsync(_snapshot.FlushAsync, token)).ConfigureAwait(false);
        }

        while (true)
        {
            token.ThrowIfCancellationRequested();
            var connection = await ConnectAsync(backoff, token).ConfigureAwait(false);
            await using (connection)
            {
                IAsyncEnumerator<PgOutputReplicationMessage>? stream = null;
                // Ends this stream when the server ends ordinary sessions (fast shutdown): PostgreSQL keeps a walsender,
                // and its shutdown, waiting until the client confirms everything sent, which unacknowledged changes prevent.
                using var streamStop = CancellationTokenSource.CreateLinkedTokenSource(token);
                var sentinel = Task.Run(() => WatchServerAsync(streamStop), CancellationToken.None);
                try
                {
                    // From what this capture knows was acknowledged: PostgreSQL 15 does not always keep the slot's confirmed
                    // position across a server restart, and then it would start further back (duplicates, never a gap).
                    ulong start;
                    lock (_lock)
                    {
                        start = _confirmed;
                    }
                    Raise($"Logical capture of {_source.EventSource} streams slot {_name} from {(start > 0 ? new NpgsqlLogSequenceNumber(start).ToString() : "its confirmed position")}.", false);
                    stream = connection.StartReplication(
                        new PgOutputReplicationSlot(_name),
                        new PgOutputReplicationOptions(_name, PgOutputProtocolVersion.V1, binary: false),
                        streamStop.Token,
                        start > 0 ? new NpgsqlLogSequenceNumber(start) : null).GetAsyncEnumerator(streamStop.Token);
                    while (true)
                    {
                        var (message, error) = await NextAsync(connection, stream, streamStop.Token, token).ConfigureAwait(false);
                        if (error is null && message is null)
                        {
                            error = new NpgsqlException("The server ended the replication stream.");
                        }
                        List<CapturedChange>? changes = null;
                        if (error is null)
                        {
                            (changes, error) = await ProcessAsync(message!, token).ConfigureAwait(false);
                        }
                        if (error is not null)
                        {
                            await HandleStreamErrorAsync(error, backoff, token).ConfigureAwait(false);
                            break;
                        }
                        if (!_ready)
                        {
                            _ready = true;
                            backoff.Reset();
                        }
                        foreach (var change in changes!)
                        {
                            yield return change;
                        }
                    }
                }
                finally
                {
                    streamStop.Cancel();
                    await sentinel.ConfigureAwait(false);
                    _replication = null;
                    _ready = false;
                    lock (_lock)
                    {
                        // A transaction cut off mid-way comes again whole from the server.
                        _transaction = null;
                    }
                    var abandoned = false;
                    if (_pendingMove is { IsCompleted: false } pending)
                    {
                        // Cancelled while waiting for the server: Npgsql ends the read shortly. Disposing before that would
                        // leave the socket open and the slot held (and a server shutdown waiting for this walsender).
                        if (await Task.WhenAny(pending, Task.Delay(TimeSpan.FromSeconds(3), CancellationToken.None)).ConfigureAwait(false) != pending)
                        {
                            await EndWalSenderAsync(connection.ProcessID).ConfigureAwait(false);
                            abandoned = await Task.WhenAny(pending, Task.Delay(TimeSpan.FromSeconds(2), CancellationToken.None)).ConfigureAwait(false) != pending;
                        }
                        _ = pending.ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                    }
                    _pendingMove = null;
                    if (stream is not null && !abandoned)
                    {
                        await IgnoreAsync(async () => await stream.DisposeAsync().ConfigureAwait(false)).ConfigureAwait(false);
                    }
                }
            }
        }
    }

    public async ValueTask AcknowledgeAsync(CapturedChange change, CancellationToken cancellationToken)
    {
        var sequence = change.Position switch
        {
            LogicalPosition p when ReferenceEquals(p.Owner, this) => p.Sequence,
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
            AdvanceLocked();
            var progressed = _snapshot.Acknowledge(sequence);
            flush = progressed && (_snapshot.Completed || DateTime.UtcNow - _lastFlush >= _options.AcknowledgeFlushInterval);
        }
        try
        {
            if (flush)
            {
                await _control.UseAsync(_snapshot.FlushAsync, cancellationToken).ConfigureAwait(false);
                lock (_lock)
                {
                    _lastFlush = DateTime.UtcNow;
                }
            }
            await PersistPositionAsync(force: false, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (TransientErrors.IsTransient(ex))
        {
            // Written with a later acknowledgement; until then a restart repeats some changes (never skips one).
        }
    }

    /// <summary>Moves the confirmed position past every transaction whose changes are all acknowledged, and tells the connection.</summary>
    private void AdvanceLocked()
    {
        var advanced = false;
        while (_committed.TryPeek(out var head) && head.LastSequence <= _acknowledged)
        {
            _committed.Dequeue();
            if (head.End > _confirmed)
            {
                _confirmed = head.End;
                advanced = true;
            }
        }
        if (advanced)
        {
            _replication?.SetReplicationStatus(new NpgsqlLogSequenceNumber(_confirmed));
        }
    }

    private long NextSequence() => Interlocked.Increment(ref _sequence);

    private long LastSequence() => Interlocked.Read(ref _sequence);

    private async Task StartAsync(Backoff backoff, CancellationToken token)
    {
        var connectedOnce = false;
        while (true)
        {
            try
            {
                await _control.UseAsync(async (connection, t) =>
                {
                    connectedOnce = true;
                    try
                    {
                        await LogicalPrerequisites.CheckAsync(connection, t).ConfigureAwait(false);
                    }
                    catch (LogicalReplicationUnavailableException ex)
                    {
                        throw new CaptureConfigurationException(ex.Message, ex);
                    }
                    var slot = await LogicalReplicationInstaller.FindSlotAsync(connection, _name, t).ConfigureAwait(false);
                    var publication = await LogicalReplicationInstaller.PublicationTablesAsync(connection, _name, t).ConfigureAwait(false);
                    if (slot is null || publication is null)
                    {
                        throw new CaptureConfigurationException(
                            $"Source {_source.EventSource} has no {(slot is null ? "replication slot" : "publication")} named {_name}: install it in Logical mode first.");
                    }
                    if (!slot.Value.InThisDatabase || slot.Value.Plugin != LogicalReplicationSql.Plugin)
                    {
                        throw new CaptureConfigurationException(
                            $"Replication slot {_name} belongs to database '{slot.Value.Database}' or uses plugin '{slot.Value.Plugin}': it is not this source's.");
                    }
                    var tables = await TableResolver.ResolveAllAsync(connection, _source.Tables, t).ConfigureAwait(false);
                    await _snapshot.PrepareAsync(connection, tables, t).ConfigureAwait(false);
                    await LoadPositionAsync(connection, t).ConfigureAwait(false);
                }, token).ConfigureAwait(false);
                _ready = true;
                backoff.Reset();
                return;
            }
            catch (Exception ex) when (TransientErrors.IsTransient(ex) && (connectedOnce || _options.RetryInitialConnection))
            {
                await FailedAsync(ex, "while starting", backoff, token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The acknowledged position recorded by an earlier capture, when it is still this slot's: a slot made
    /// again later starts (restart_lsn) after anything recorded for the one before, so such a record is ignored.
    /// </summary>
    private async Task LoadPositionAsync(NpgsqlConnection connection, CancellationToken token)
    {
        _hasPositionTable = await SourceStateSql.TableExistsAsync(connection, _name, SourceStateSql.PositionTable, token).ConfigureAwait(false);
        if (!_hasPositionTable)
        {
            return;
        }
        await using var command = new NpgsqlCommand($"""
            SELECT p.confirmed_lsn::text
            FROM {SourceStateSql.PositionQualified(_name)} p
            JOIN pg_catalog.pg_replication_slots s ON s.slot_name = @name
            WHERE p.confirmed_lsn >= s.restart_lsn
            """, connection);
        command.Parameters.AddWithValue("name", _name);
        if (await command.ExecuteScalarAsync(token).ConfigureAwait(false) is string text)
        {
            var recorded = (ulong)NpgsqlLogSequenceNumber.Parse(text);
            lock (_lock)
            {
                _confirmed = Math.Max(_confirmed, recorded);
                _persisted = Math.Max(_persisted, recorded);
            }
        }
    }

    /// <summary>Records the acknowledged position in the source's state (batched; and when the capture closes).</summary>
    private async Task PersistPositionAsync(bool force, CancellationToken token)
    {
        ulong confirmed;
        lock (_lock)
        {
            if (!_hasPositionTable || _confirmed <= _persisted || (!force && DateTime.UtcNow - _lastPersist < _options.AcknowledgeFlushInterval))
            {
                return;
            }
            confirmed = _confirmed;
            _lastPersist = DateTime.UtcNow;
        }
        await _control.UseAsync(async (connection, t) =>
        {
            await using var command = new NpgsqlCommand($"""
                INSERT INTO {SourceStateSql.PositionQualified(_name)} (only_row, confirmed_lsn, updated)
                VALUES (true, @lsn::pg_lsn, pg_catalog.now())
                ON CONFLICT (only_row) DO UPDATE
                SET confirmed_lsn = GREATEST({SourceStateSql.PositionQualified(_name)}.confirmed_lsn, excluded.confirmed_lsn), updated = excluded.updated
                """, connection);
            command.Parameters.AddWithValue("lsn", new NpgsqlLogSequenceNumber(confirmed).ToString());
            await command.ExecuteNonQueryAsync(t).ConfigureAwait(false);
        }, token).ConfigureAwait(false);
        lock (_lock)
        {
            _persisted = Math.Max(_persisted, confirmed);
        }
    }

    private async Task<LogicalReplicationConnection> ConnectAsync(Backoff backoff, CancellationToken token)
    {
        while (true)
        {
            var connection = new LogicalReplicationConnection(_replicationConnectionString)
            {
                WalReceiverStatusInterval = _options.StatusInterval,
            };
            try
            {
                await connection.Open(token).ConfigureAwait(false);
                lock (_lock)
                {
                    _replication = connection;
                    if (_confirmed > 0)
                    {
                        connection.SetReplicationStatus(new NpgsqlLogSequenceNumber(_confirmed));
                    }
                }
                return connection;
            }
            catch (PostgresException ex) when (ex.SqlState is "42501" or "28000")
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                throw new CaptureConfigurationException(
                    $"Logical mode needs a role with the REPLICATION attribute ({ex.MessageText}). Run ALTER ROLE ... REPLICATION as a superuser, or use Durable mode.", ex);
            }
            catch (Exception ex) when (TransientErrors.IsTransient(ex))
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                await FailedAsync(ex, "while connecting for replication", backoff, token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The next message; while waiting, tells the server the confirmed position regularly (and moves it with the WAL when nothing is outstanding).</summary>
    private async Task<(PgOutputReplicationMessage? Message, Exception? Error)> NextAsync(
        LogicalReplicationConnection connection, IAsyncEnumerator<PgOutputReplicationMessage> stream, CancellationToken token, CancellationToken outer)
    {
        try
        {
            var move = _pendingMove = stream.MoveNextAsync().AsTask();
            // The first look comes soon: a quiet stream that has not failed is up (ready), even before any message.
            var wait = _ready ? _options.StatusInterval : TimeSpan.FromMilliseconds(Math.Min(500, _options.StatusInterval.TotalMilliseconds));
            while (!move.IsCompleted)
            {
                using var tick = CancellationTokenSource.CreateLinkedTokenSource(token);
                var delay = Task.Delay(wait, tick.Token);
                wait = _options.StatusInterval;
                if (await Task.WhenAny(move, delay).ConfigureAwait(false) == move)
                {
                    tick.Cancel();
                    break;
                }
                if (token.IsCancellationRequested)
                {
                    // The pending read ends with the cancellation; leave the connection alone until it has.
                    break;
                }
                _ready = true;
                await ReportIdleAsync(connection, token).ConfigureAwait(false);
            }
            return await move.ConfigureAwait(false) ? (stream.Current, null) : (null, null);
        }
        catch (OperationCanceledException ex) when (!outer.IsCancellationRequested)
        {
            return (null, new NpgsqlException("The server is shutting down or ended this capture's sessions; the stream is reopened when it is back.", ex));
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !outer.IsCancellationRequested)
        {
            return (null, ex);
        }
    }

    private async Task ReportIdleAsync(LogicalReplicationConnection connection, CancellationToken token)
    {
        lock (_lock)
        {
            // Only with nothing in flight: everything the server sent before its latest keepalive was handled and acknowledged.
            if (_transaction is null && _committed.Count == 0 && _acknowledged >= Interlocked.Read(ref _sequence))
            {
                var received = (ulong)connection.LastReceivedLsn;
                if (received > _confirmed)
                {
                    _confirmed = received;
                }
            }
            if (_confirmed > 0)
            {
                connection.SetReplicationStatus(new NpgsqlLogSequenceNumber(_confirmed));
            }
        }
        try
        {
            await connection.SendStatusUpdate(token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException || TransientErrors.IsTransient(ex))
        {
            // The stream's own failure (or cancellation) surfaces from the pending read.
        }
    }

    /// <summary>
    /// Acknowledgements that came after the stream closed never reached the server: move the slot there
    /// directly (once the walsender has let go of it), so the next reader does not get them again.
    /// </summary>
    private async Task AdvanceSlotAsync(CancellationToken token)
    {
        ulong confirmed;
        lock (_lock)
        {
            confirmed = _confirmed;
        }
        if (confirmed == 0)
        {
            return;
        }
        var lsn = new NpgsqlLogSequenceNumber(confirmed).ToString();
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var state = await _control.UseAsync(async (connection, t) =>
            {
                await using var command = new NpgsqlCommand(
                    "SELECT active, confirmed_flush_lsn >= @lsn::pg_lsn FROM pg_catalog.pg_replication_slots WHERE slot_name = @name", connection);
                command.Parameters.AddWithValue("name", _name);
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
                await _control.UseAsync(async (connection, t) =>
                {
                    await using var command = new NpgsqlCommand("SELECT pg_catalog.pg_replication_slot_advance(@name, @lsn::pg_lsn)", connection);
                    command.Parameters.AddWithValue("name", _name);
                    command.Parameters.AddWithValue("lsn", lsn);
                    await command.ExecuteNonQueryAsync(t).ConfigureAwait(false);
                }, token).ConfigureAwait(false);
                return;
            }
            await Task.Delay(100, token).ConfigureAwait(false);
        }
    }

    private static async Task IgnoreAsync(Func<Task> action)
    {
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Cleaning up after a connection that is going away anyway.
        }
    }

    /// <summary>
    /// Holds an idle ordinary session next to the stream. When the server ends it (fast shutdown terminates
    /// every ordinary session before the shutdown checkpoint; an administrator's pg_terminate_backend does the
    /// same), the stream is stopped too, so the walsender can exit; the capture reconnects with backoff.
    /// </summary>
    private async Task WatchServerAsync(CancellationTokenSource stop)
    {
        var connection = new NpgsqlConnection(_connectionString);
        try
        {
            await connection.OpenAsync(stop.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // No watch without a connection; the stream still fails by itself if the server goes.
            await connection.DisposeAsync().ConfigureAwait(false);
            return;
        }
        try
        {
            while (true)
            {
                await connection.WaitAsync(stop.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is PostgresException { SqlState: "57P01" or "57P02" or "57P03" } || TransientErrors.IsTransient(ex))
        {
            try
            {
                stop.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }
        finally
        {
            await IgnoreAsync(async () => await connection.DisposeAsync().ConfigureAwait(false)).ConfigureAwait(false);
        }
    }

    /// <summary>Ends this capture's own walsender from an ordinary connection, when its read does not stop by itself.</summary>
    private async Task EndWalSenderAsync(int processId)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _control.UseAsync(async (connection, t) =>
            {
                await using var command = new NpgsqlCommand("SELECT pg_catalog.pg_terminate_backend(@pid)", connection);
                command.Parameters.AddWithValue("pid", processId);
                await command.ExecuteNonQueryAsync(t).ConfigureAwait(false);
            }, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or PostgresException || TransientErrors.IsTransient(ex))
        {
        }
    }

    private async Task HandleStreamErrorAsync(Exception error, Backoff backoff, CancellationToken token)
    {
        if (error is PostgresException postgres)
        {
            if (postgres.SqlState == "55006" && _options.TakeOverSlot)
            {
                // The slot is still held by a walsender of a listener that is gone: this capture owns the source now.
                var ended = await Guard.RunAsync(() => _control.UseAsync(async (connection, t) =>
                {
                    await using var command = new NpgsqlCommand(
                        "SELECT pg_catalog.pg_terminate_backend(active_pid) FROM pg_catalog.pg_replication_slots WHERE slot_name = @name AND active_pid IS NOT NULL",
                        connection);
                    command.Parameters.AddWithValue("name", _name);
                    await command.ExecuteNonQueryAsync(t).ConfigureAwait(false);
                }, token)).ConfigureAwait(false);
                Raise($"Replication slot {_name} was held by another walsender; it was ended so this capture can take over.", false);
                await Task.Delay(TimeSpan.FromMilliseconds(200), token).ConfigureAwait(false);
                return;
            }
            if (postgres.SqlState is "42704" or "55000" or "42501" || !TransientErrors.IsTransient(postgres))
            {
                throw new CaptureConfigurationException(postgres.SqlState == "42704"
                    ? $"Logical capture of {_source.EventSource} cannot stream: {postgres.MessageText}. The slot or publication was dropped (uninstalled, or switched to another mode); changes made since are not captured."
                    : $"Logical capture of {_source.EventSource} cannot stream: {postgres.MessageText}.", postgres);
            }
        }
        else if (!TransientErrors.IsTransient(error))
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
        }
        await FailedAsync(error, "while streaming", backoff, token).ConfigureAwait(false);
    }

    private async Task<(List<CapturedChange>? Changes, Exception? Error)> ProcessAsync(PgOutputReplicationMessage message, CancellationToken token)
    {
        try
        {
            var changes = new List<CapturedChange>();
            switch (message)
            {
                case BeginMessage begin:
                    lock (_lock)
                    {
                        _transaction = new Transaction
                        {
                            Xid = begin.TransactionXid,
                            CommitLsn = (ulong)begin.TransactionFinalLsn,
                            CommitTime = new DateTimeOffset(DateTime.SpecifyKind(begin.TransactionCommitTimestamp, DateTimeKind.Utc)),
                        };
                    }
                    break;
                case CommitMessage commit:
                    lock (_lock)
                    {
                        _transaction = null;
                        _committed.Enqueue((Interlocked.Read(ref _sequence), (ulong)commit.TransactionEndLsn));
                        AdvanceLocked();
                    }
                    break;
                case InsertMessage insert:
                    await AddAsync(changes, insert.Relation, ChangeOperation.Insert,
                        await PgOutputRow.ReadAsync(insert.NewRow, insert.Relation, token).ConfigureAwait(false), null, null, token).ConfigureAwait(false);
                    break;
                case FullUpdateMessage update:
                {
                    var old = await PgOutputRow.ReadAsync(update.OldRow, update.Relation, token).ConfigureAwait(false);
                    var row = await PgOutputRow.ReadAsync(update.NewRow, update.Relation, token).ConfigureAwait(false);
                    await AddAsync(changes, update.Relation, ChangeOperation.Update, row, old, null, token).ConfigureAwait(false);
                    break;
                }
                case IndexUpdateMessage update:
                {
                    var key = await PgOutputRow.ReadAsync(update.Key, update.Relation, token).ConfigureAwait(false);
                    var row = await PgOutputRow.ReadAsync(update.NewRow, update.Relation, token).ConfigureAwait(false);
                    await AddAsync(changes, update.Relation, ChangeOperation.Update, row, null, key, token).ConfigureAwait(false);
                    break;
                }
                case UpdateMessage update:
                    await AddAsync(changes, update.Relation, ChangeOperation.Update,
                        await PgOutputRow.ReadAsync(update.NewRow, update.Relation, token).ConfigureAwait(false), null, null, token).ConfigureAwait(false);
                    break;
                case FullDeleteMessage delete:
                    await AddAsync(changes, delete.Relation, ChangeOperation.Delete,
                        await PgOutputRow.ReadAsync(delete.OldRow, delete.Relation, token).ConfigureAwait(false), null, null, token).ConfigureAwait(false);
                    break;
                case KeyDeleteMessage delete:
                    await AddAsync(changes, delete.Relation, ChangeOperation.Delete,
                        await PgOutputRow.ReadAsync(delete.Key, delete.Relation, token).ConfigureAwait(false), null, null, token, keyOnly: true).ConfigureAwait(false);
                    break;
                case TruncateMessage truncate:
                    foreach (var relation in truncate.Relations)
                    {
                        await AddAsync(changes, relation, ChangeOperation.Truncate, null, null, null, token, truncate: truncate.Options).ConfigureAwait(false);
                    }
                    break;
            }
            return (changes, null);
        }
        catch (Exception ex) when (TransientErrors.IsTransient(ex))
        {
            return (null, ex);
        }
    }

    private async Task AddAsync(List<CapturedChange> changes, RelationMessage relation, ChangeOperation operation,
        PgOutputRow? row, PgOutputRow? old, PgOutputRow? oldKey, CancellationToken token,
        bool keyOnly = false, TruncateMessage.TruncateOptions? truncate = null)
    {
        Transaction transaction;
        int index;
        lock (_lock)
        {
            transaction = _transaction ?? throw new NpgsqlException("A change arrived outside a transaction.");
            index = transaction.Index++;
        }
        var schema = relation.Namespace;
        var table = relation.RelationName;

        var decision = _seam.IsEmpty
            ? SnapshotSeam.Decision.Emit
            : _seam.Classify(schema, table, transaction.CommitLsn, s => s.Widen(transaction.Xid));
        if (decision == SnapshotSeam.Decision.ByKey)
        {
            var rows = new[] { row?.ToJson(), old?.ToJson() ?? oldKey?.ToJson() };
            decision = await _control.UseAsync((c, t) => _seam.SuppressByKeyAsync(c, schema, table, s => s.Widen(transaction.Xid), rows, t), token).ConfigureAwait(false)
                ? SnapshotSeam.Decision.Suppress
                : SnapshotSeam.Decision.Emit;
        }
        if (decision == SnapshotSeam.Decision.Suppress)
        {
            return;
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            var unchanged = new List<string>();
            writer.WriteStartObject();
            writer.WriteString("table", table);
            writer.WriteString("schema", schema);
            writer.WriteString("action", CapturedChange.ActionName(operation));
            writer.WritePropertyName("data");
            if (row is null)
            {
                writer.WriteNullValue();
            }
            else
            {
                row.Write(writer, old, unchanged);
            }
            if (old is not null)
            {
                writer.WritePropertyName("old");
                old.Write(writer, null, []);
            }
            if (oldKey is not null)
            {
                writer.WritePropertyName("oldKey");
                oldKey.Write(writer, null, []);
            }
            if (keyOnly)
            {
                writer.WriteBoolean("keyOnly", true);
            }
            if (unchanged.Count > 0)
            {
                writer.WriteStartArray("unchangedToasted");
                foreach (var name in unchanged)
                {
                    writer.WriteStringValue(name);
                }
                writer.WriteEndArray();
            }
            if (truncate is { } options)
            {
                writer.WriteBoolean("cascade", options.HasFlag(TruncateMessage.TruncateOptions.Cascade));
                writer.WriteBoolean("restartIdentity", options.HasFlag(TruncateMessage.TruncateOptions.RestartIdentity));
            }
            writer.WriteEndObject();
        }

        var lsn = new NpgsqlLogSequenceNumber(transaction.CommitLsn);
        var sequence = NextSequence();
        changes.Add(new CapturedChange
        {
            Schema = schema,
            Table = table,
            Operation = operation,
            PayloadJson = System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan),
            Id = $"{_name}-{transaction.CommitLsn:X16}-{index}",
            TransactionId = transaction.Xid.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Lsn = lsn.ToString(),
            CommitTime = transaction.CommitTime,
            Position = new LogicalPosition(this, sequence, transaction.CommitLsn, index),
        });
    }

    private async Task FailedAsync(Exception error, string when, Backoff backoff, CancellationToken token)
    {
        _ready = false;
        var delay = backoff.Next();
        Raise($"Logical capture of {_source.EventSource} lost its connection {when} ({error.Message}); retrying in {delay.TotalSeconds:0.0}s. Nothing is lost: the slot keeps every change not acknowledged.", false);
        await Task.Delay(delay, token).ConfigureAwait(false);
    }

    private void Raise(string message, bool possibleLoss)
    {
        try
        {
            Notice?.Invoke(new CaptureNotice(message, possibleLoss));
        }
        catch (Exception)
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
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            if (_snapshot.HasDirtyProgress)
            {
                await _control.UseAsync(_snapshot.FlushAsync, timeout.Token).ConfigureAwait(false);
            }
            await PersistPositionAsync(force: true, timeout.Token).ConfigureAwait(false);
            await AdvanceSlotAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or PostgresException || TransientErrors.IsTransient(ex))
        {
        }
        await _control.DisposeAsync().ConfigureAwait(false);
        _lifetime.Dispose();
    }
}
