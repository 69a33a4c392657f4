using System.Runtime.CompilerServices;
using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput.Messages;
using NpgsqlTypes;
using PostgresSource.Core.Connections;
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
internal sealed class LogicalCapture : ReliableCapture
{
    private readonly string _replicationConnectionString;
    private readonly LogicalAcknowledgements _acknowledgements = new();
    private readonly LogicalPositionStore _positions;
    private readonly PgOutputChangeConverter _changes;
    private readonly object _snapshotLock = new();
    private LogicalReplicationConnection? _replication;
    private DateTime _lastFlush = DateTime.UtcNow;

    public LogicalCapture(SourceDefinition source, ConnectionSettings connection, CaptureOptions? options = null)
        : base(source, connection, options, SnapshotHorizon.WalLsn)
    {
        // A cancelled read waits this long for the server's answer before the connection is closed.
        _replicationConnectionString = new NpgsqlConnectionStringBuilder(ConnectionString) { CancellationTimeout = 1000 }.ConnectionString;
        _positions = new LogicalPositionStore(Name, Control, _acknowledgements, Options.AcknowledgeFlushInterval);
        _changes = new PgOutputChangeConverter(Issuer, Name, _acknowledgements, Control);
    }

    public override CaptureMode Mode => CaptureMode.Logical;

    /// <summary>The walsender's process id while streaming (diagnostics and fault tests).</summary>
    public int? WalSenderProcessId => _replication?.ProcessID;

    /// <summary>The last position sent to the server as flushed (diagnostics).</summary>
    public NpgsqlLogSequenceNumber ConfirmedLsn => new(_acknowledgements.Confirmed);

    private protected override async IAsyncEnumerable<CapturedChange> StreamAsync(Backoff backoff, [EnumeratorCancellation] CancellationToken token)
    {
        await foreach (var read in SnapshotAsync(_acknowledgements.NextSequence, _acknowledgements.LastSequence, backoff, token).ConfigureAwait(false))
        {
            yield return read;
        }
        _changes.Seam = Snapshot.BuildSeam();
        lock (_snapshotLock)
        {
            Snapshot.Acknowledge(_acknowledgements.Acknowledged);
        }
        if (Snapshot.HasDirtyProgress)
        {
            await Guard.RunAsync(() => Control.UseAsync(Snapshot.FlushAsync, token)).ConfigureAwait(false);
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
                var sentinel = Task.Run(() => ServerShutdownWatch.RunAsync(ConnectionString, streamStop), CancellationToken.None);
                try
                {
                    // From what this capture knows was acknowledged: PostgreSQL 15 does not always keep the slot's confirmed
                    // position across a server restart, and then it would start further back (duplicates, never a gap).
                    var start = _acknowledgements.Confirmed;
                    Raise($"Logical capture of {Source.EventSource} streams slot {Name} from {(start > 0 ? new NpgsqlLogSequenceNumber(start).ToString() : "its confirmed position")}.", false);
                    stream = ReplicationSession.Start(connection, Name, start, _acknowledgements, Options.StatusInterval, MarkStreaming, streamStop.Token);
                    var backfillChecked = DateTime.UtcNow;
                    var backfillHinted = false;
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
                        if (!Ready)
                        {
                            MarkStreaming();
                            backoff.Reset();
                        }
                        // By index: a foreach over the interface would allocate an enumerator per message.
                        for (var i = 0; i < changes!.Count; i++)
                        {
                            yield return changes[i];
                        }
                        // A backfill request says so in the stream (Backfill.WakeMessagePrefix): taken at that transaction's end.
                        backfillHinted |= message is LogicalDecodingMessage { Prefix: Backfill.WakeMessagePrefix };
                        if (message is CommitMessage && (backfillHinted || DateTime.UtcNow - backfillChecked >= Options.BackfillCheckInterval))
                        {
                            backfillHinted = false;
                            // At a transaction's end: a backfill holds the stream here (the server keeps sending into
                            // the session's buffer) and the stream goes on after it, the snapshot's changes left out.
                            backfillChecked = DateTime.UtcNow;
                            var backfilled = false;
                            await foreach (var read in BackfillAsync(_acknowledgements.NextSequence, _acknowledgements.LastSequence, backoff, token).ConfigureAwait(false))
                            {
                                backfilled = true;
                                yield return read;
                            }
                            if (backfilled)
                            {
                                // The seam learns what the backfill's snapshot holds; unchanged otherwise.
                                _changes.Seam = Snapshot.BuildSeam();
                            }
                        }
                    }
                }
                finally
                {
                    streamStop.Cancel();
                    await sentinel.ConfigureAwait(false);
                    _replication = null;
                    Ready = false;
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

    private protected override async ValueTask AcknowledgeAsync(long sequence, CancellationToken cancellationToken)
    {
        if (!_acknowledgements.Acknowledge(sequence))
        {
            return;
        }
        bool flush;
        lock (_snapshotLock)
        {
            var progressed = Snapshot.Acknowledge(sequence);
            flush = progressed && (Snapshot.Completed || DateTime.UtcNow - _lastFlush >= Options.AcknowledgeFlushInterval);
        }
        if (flush)
        {
            try
            {
                await Control.UseAsync(Snapshot.FlushAsync, cancellationToken).ConfigureAwait(false);
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
        _positions.WriteSoon(Closing);
    }

    private void MarkStreaming() => Ready = true;

    // Ready once changes flow: now when a snapshot is read first, else when the replication stream is up
    // (its first message, or half a second without an error), not while it is still connecting.
    private protected override bool ReadyAfterStart => Snapshot.Needed;

    /// <summary>Checks the slot's prerequisites, gets the snapshot ready and loads the kept position: the start-up work, on the control connection.</summary>
    private protected override async Task PrepareAsync(NpgsqlConnection connection, CancellationToken token)
    {
        await LogicalSlotSetup.VerifyAsync(connection, Source, Name, token).ConfigureAwait(false);
        var tables = await SourceFilters.ResolveAsync(connection, Source, token, check: false).ConfigureAwait(false);
        await Snapshot.PrepareAsync(connection, tables, token).ConfigureAwait(false);
        _changes.Filters = ChangeFilters.For(tables);
        await _positions.LoadAsync(connection, token).ConfigureAwait(false);
    }

    private async Task<LogicalReplicationConnection> ConnectAsync(Backoff backoff, CancellationToken token)
    {
        while (true)
        {
            var connection = new LogicalReplicationConnection(_replicationConnectionString)
            {
                WalReceiverStatusInterval = Options.StatusInterval,
            };
            try
            {
                await connection.Open(token).ConfigureAwait(false);
                _replication = connection;
                _acknowledgements.Attach(connection);
                return connection;
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.InsufficientPrivilege or PostgresErrorCodes.InvalidAuthorizationSpecification)
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
            if (postgres.SqlState == PostgresErrorCodes.ObjectInUse && Options.TakeOverSlot)
            {
                // The slot is still held by a walsender of a listener that is gone: this capture owns the source now.
                await Guard.RunAsync(() => Control.UseAsync((connection, t) => LogicalSlotSetup.EndSlotHolderAsync(connection, Name, t), token)).ConfigureAwait(false);
                Raise($"Replication slot {Name} was held by another walsender; it was ended so this capture can take over.", false);
                await Task.Delay(TimeSpan.FromMilliseconds(200), token).ConfigureAwait(false);
                return;
            }
            if (postgres.SqlState is PostgresErrorCodes.UndefinedObject or PostgresErrorCodes.ObjectNotInPrerequisiteState or PostgresErrorCodes.InsufficientPrivilege || !TransientErrors.IsTransient(postgres))
            {
                throw new CaptureConfigurationException(postgres.SqlState == PostgresErrorCodes.UndefinedObject
                    ? $"Logical capture of {Source.EventSource} cannot stream: {postgres.MessageText}. The slot or publication was dropped (uninstalled, or switched to another mode); changes made since are not captured."
                    : $"Logical capture of {Source.EventSource} cannot stream: {postgres.MessageText}.", postgres);
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

    private protected override string LostConnectionNotice(Exception error, string when, TimeSpan delay) =>
        $"Logical capture of {Source.EventSource} lost its connection {when} ({error.Message}); retrying in {delay.TotalSeconds:0.0}s. Nothing is lost: the slot keeps every change not acknowledged.";

    private protected override TimeSpan CloseFlushTimeout => TimeSpan.FromSeconds(3);

    private protected override async Task FlushOnCloseAsync(CancellationToken token)
    {
        if (Snapshot.HasDirtyProgress)
        {
            await Control.UseAsync(Snapshot.FlushAsync, token).ConfigureAwait(false);
        }
        await _positions.WriteNowAsync(token).ConfigureAwait(false);
        await _positions.AdvanceSlotAsync(token).ConfigureAwait(false);
    }
}
