using System.Runtime.CompilerServices;
using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput.Messages;
using NpgsqlTypes;
using PostgresSource.Core.Capture.Reliability;
using PostgresSource.Core.Capture.Snapshots;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Capture.Logical;

/// <summary>
/// Logical mode: streams the source's pgoutput slot (publication and slot named by the object name) with
/// Npgsql's logical replication API, and reconnects with backoff. The parts: <see cref="LogicalSlotSetup"/>
/// (prerequisites, slot and publication), <see cref="ReplicationSession"/> (one stream and its quiet-time
/// status updates), <see cref="PgOutputChangeConverter"/> (messages to changes), <see cref="LogicalAcknowledgements"/>
/// (which position may be confirmed: only what the sink acknowledged, so a restart resumes there, at least once)
/// and <see cref="LogicalPositionStore"/> (that position kept in the source's state too).
/// Changes come in commit order and carry the transaction id, the commit LSN and the commit time.
/// </summary>
public sealed class LogicalCapture : IChangeCapture
{
    private readonly SourceDefinition _source;
    private readonly CaptureOptions _options;
    private readonly string _name;
    private readonly string _connectionString;
    private readonly string _replicationConnectionString;
    private readonly ControlConnection _control;
    private readonly SnapshotRunner _snapshot;
    private readonly LogicalAcknowledgements _acknowledgements = new();
    private readonly LogicalPositionStore _positions;
    private readonly PgOutputChangeConverter _changes;
    private readonly CancellationTokenSource _lifetime = new();
    // Kept apart from the source: an acknowledgement racing DisposeAsync must not touch the disposed source.
    private readonly CancellationToken _closing;
    private readonly object _snapshotLock = new();
    private LogicalReplicationConnection? _replication;
    private DateTime _lastFlush = DateTime.UtcNow;
    private volatile bool _ready;
    private int _started;
    private int _disposed;

    public LogicalCapture(SourceDefinition source, ConnectionSettings connection, CaptureOptions? options = null)
    {
        _source = source;
        _options = options ?? CaptureOptions.Default;
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
        _positions = new LogicalPositionStore(_name, _control, _acknowledgements, _options.AcknowledgeFlushInterval);
        _changes = new PgOutputChangeConverter(this, _name, _acknowledgements, _control);
        _closing = _lifetime.Token;
    }

    public CaptureMode Mode => CaptureMode.Logical;

    public bool IsReady => _ready;

    public event Action<CaptureNotice>? Notice;

    /// <summary>The walsender's process id while streaming (diagnostics and fault tests).</summary>
    public int? WalSenderProcessId => _replication?.ProcessID;

    /// <summary>The last position sent to the server as flushed (diagnostics).</summary>
    public NpgsqlLogSequenceNumber ConfirmedLsn => new(_acknowledgements.Confirmed);

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

        await foreach (var read in SnapshotPhase.RunAsync(_snapshot, _connectionString, this, _acknowledgements.NextSequence, _acknowledgements.LastSequence,
            (error, when) => FailedAsync(error, when, backoff, token), token).ConfigureAwait(false))
        {
            yield return read;
        }
        _changes.Seam = _snapshot.BuildSeam();
        lock (_snapshotLock)
        {
            _snapshot.Acknowledge(_acknowledgements.Acknowledged);
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
                ReplicationSession? stream = null;
                // Ends this stream when the server ends ordinary sessions (see ServerShutdownWatch).
                using var streamStop = CancellationTokenSource.CreateLinkedTokenSource(token);
                var sentinel = Task.Run(() => ServerShutdownWatch.RunAsync(_connectionString, streamStop), CancellationToken.None);
                try
                {
                    // From what this capture knows was acknowledged: PostgreSQL 15 does not always keep the slot's confirmed
                    // position across a server restart, and then it would start further back (duplicates, never a gap).
                    var start = _acknowledgements.Confirmed;
                    Raise($"Logical capture of {_source.EventSource} streams slot {_name} from {(start > 0 ? new NpgsqlLogSequenceNumber(start).ToString() : "its confirmed position")}.", false);
                    stream = ReplicationSession.Start(connection, _name, start, _acknowledgements, _options.StatusInterval, MarkStreaming, streamStop.Token);
                    while (true)
                    {
                        var (message, error) = await stream.NextAsync(token).ConfigureAwait(false);
                        if (error is null && message is null)
                        {
                            error = new NpgsqlException("The server ended the replication stream.");
                        }
                        IReadOnlyList<CapturedChange>? changes = null;
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
                            MarkStreaming();
                            backoff.Reset();
                        }
                        // By index: a foreach over the interface would allocate an enumerator per message.
                        for (var i = 0; i < changes!.Count; i++)
                        {
                            yield return changes[i];
                        }
                    }
                }
                finally
                {
                    streamStop.Cancel();
                    await sentinel.ConfigureAwait(false);
                    _replication = null;
                    _ready = false;
                    // A transaction cut off mid-way comes again whole from the server.
                    _acknowledgements.Detach();
                    _changes.Reset();
                    // The session's reads have all finished (NextAsync returns only then), so its socket can be let go.
                    if (stream is not null)
                    {
                        await stream.DisposeAsync().ConfigureAwait(false);
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
        if (sequence == 0 || Volatile.Read(ref _disposed) != 0 || !_acknowledgements.Acknowledge(sequence))
        {
            return;
        }
        bool flush;
        lock (_snapshotLock)
        {
            var progressed = _snapshot.Acknowledge(sequence);
            flush = progressed && (_snapshot.Completed || DateTime.UtcNow - _lastFlush >= _options.AcknowledgeFlushInterval);
        }
        if (flush)
        {
            try
            {
                await _control.UseAsync(_snapshot.FlushAsync, cancellationToken).ConfigureAwait(false);
                lock (_snapshotLock)
                {
                    _lastFlush = DateTime.UtcNow;
                }
            }
            catch (Exception ex) when (TransientErrors.IsTransient(ex))
            {
                // Written with a later acknowledgement; until then a restart repeats some snapshot rows (never skips one).
            }
        }
        _positions.WriteSoon(_closing);
    }

    private void MarkStreaming() => _ready = true;

    private async Task StartAsync(Backoff backoff, CancellationToken token)
    {
        await Reconnect.StartAsync(_control, PrepareAsync, _options.RetryInitialConnection,
            (error, when) => FailedAsync(error, when, backoff, token), token).ConfigureAwait(false);
        // Ready once changes flow: now when a snapshot is read first, else when the replication stream is up
        // (its first message, or half a second without an error), not while it is still connecting.
        _ready = _snapshot.Needed;
        backoff.Reset();
    }

    /// <summary>Checks the slot's prerequisites, gets the snapshot ready and loads the kept position: the start-up work, on the control connection.</summary>
    private async Task PrepareAsync(NpgsqlConnection connection, CancellationToken token)
    {
        await LogicalSlotSetup.VerifyAsync(connection, _source, _name, token).ConfigureAwait(false);
        var tables = await TableResolver.ResolveAllAsync(connection, _source.Tables, token).ConfigureAwait(false);
        await _snapshot.PrepareAsync(connection, tables, token).ConfigureAwait(false);
        await _positions.LoadAsync(connection, token).ConfigureAwait(false);
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
                _replication = connection;
                _acknowledgements.Attach(connection);
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

    private async Task HandleStreamErrorAsync(Exception error, Backoff backoff, CancellationToken token)
    {
        if (error is PostgresException postgres)
        {
            if (postgres.SqlState == "55006" && _options.TakeOverSlot)
            {
                // The slot is still held by a walsender of a listener that is gone: this capture owns the source now.
                await Guard.RunAsync(() => _control.UseAsync((connection, t) => LogicalSlotSetup.EndSlotHolderAsync(connection, _name, t), token)).ConfigureAwait(false);
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

    /// <summary>The message's changes, or the transient error that ends this stream (an iterator cannot yield inside a try with a catch).</summary>
    private async ValueTask<(IReadOnlyList<CapturedChange>? Changes, Exception? Error)> ProcessAsync(PgOutputReplicationMessage message, CancellationToken token)
    {
        try
        {
            return (await _changes.ConvertAsync(message, token).ConfigureAwait(false), null);
        }
        catch (Exception ex) when (TransientErrors.IsTransient(ex))
        {
            return (null, ex);
        }
    }

    private Task FailedAsync(Exception error, string when, Backoff backoff, CancellationToken token)
    {
        _ready = false;
        return Reconnect.WaitOutAsync(backoff, delay =>
            $"Logical capture of {_source.EventSource} lost its connection {when} ({error.Message}); retrying in {delay.TotalSeconds:0.0}s. Nothing is lost: the slot keeps every change not acknowledged.",
            Notice, token);
    }

    private void Raise(string message, bool possibleLoss)
    {
        Notice.RaiseSafely(message, possibleLoss);
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
            await _positions.WriteNowAsync(timeout.Token).ConfigureAwait(false);
            await _positions.AdvanceSlotAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or PostgresException || TransientErrors.IsTransient(ex))
        {
        }
        await _control.DisposeAsync().ConfigureAwait(false);
        _lifetime.Dispose();
    }
}
