using System.Runtime.CompilerServices;
using Npgsql;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture.Snapshots;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Capture.Reliability;

/// <summary>
/// The skeleton of the at-least-once captures (Durable, Logical): connect and prepare with retries, take the
/// initial snapshot, stream (the mode's <see cref="StreamAsync"/>), acknowledge the mode's own positions, ride out a
/// lost connection with the backoff, and flush what was acknowledged when disposed. A mode fills in the steps and
/// its wording; the order of the steps, and what happens on failure, are the same for both.
/// </summary>
internal abstract class ReliableCapture : IChangeCapture
{
    private readonly CaptureLifetime _lifetime = new();
    private volatile bool _ready;

    private protected ReliableCapture(SourceDefinition source, ConnectionSettings connection, CaptureOptions? options,
        SnapshotHorizon horizon, Action<NpgsqlConnectionStringBuilder>? tune = null)
    {
        Source = source;
        Options = options ?? CaptureOptions.Default;
        Name = source.DatabaseObjectName;
        // The capture's connections are its own for their whole life: never pooled, so closing one really closes it.
        var builder = new NpgsqlConnectionStringBuilder(connection.ToPrivateConnectionString(Options.ApplicationName));
        tune?.Invoke(builder);
        ConnectionString = builder.ConnectionString;
        Control = new ControlConnection(ConnectionString);
        Snapshot = new SnapshotRunner(Name, horizon, Options);
    }

    public abstract CaptureMode Mode { get; }

    public bool IsReady => _ready;

    public event Action<CaptureNotice>? Notice;

    private protected SourceDefinition Source { get; }

    private protected CaptureOptions Options { get; }

    /// <summary>The source's object name: its schema, slot, journal and channel.</summary>
    private protected string Name { get; }

    private protected string ConnectionString { get; }

    /// <summary>The connection for start-up work, reads (Durable) and flushes.</summary>
    private protected ControlConnection Control { get; }

    private protected SnapshotRunner Snapshot { get; }

    /// <summary>Stamps this capture's positions (snapshot reads and streamed changes) and recognises them again.</summary>
    private protected PositionIssuer Issuer { get; } = new();

    /// <summary>Cancelled when the capture is disposed; safe to read after.</summary>
    private protected CancellationToken Closing => _lifetime.Token;

    private protected bool Ready
    {
        get => _ready;
        set => _ready = value;
    }

    public async IAsyncEnumerable<CapturedChange> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var linked = _lifetime.BeginRead(cancellationToken);
        var token = linked.Token;
        var backoff = Options.ReconnectBackoff();

        await StartAsync(backoff, token).ConfigureAwait(false);
        await foreach (var change in StreamAsync(backoff, token).ConfigureAwait(false))
        {
            yield return change;
        }
    }

    /// <summary>The initial snapshot, attempt after attempt until every table is read (nothing when none is needed).</summary>
    private protected IAsyncEnumerable<CapturedChange> SnapshotAsync(Func<long> nextSequence, Func<long> lastSequence, Backoff backoff, CancellationToken token) =>
        SnapshotPhase.RunAsync(Snapshot, ConnectionString, Issuer, nextSequence, lastSequence,
            (error, when) => FailedAsync(error, when, backoff, token), token);

    /// <summary>
    /// The reads of the backfills requested since the last look (<see cref="Snapshots.Backfill"/>), none when there are
    /// none; the caller holds its stream meanwhile and rebuilds its seam after. A look that fails (the connection lost)
    /// finds nothing: the stream's own reading meets and handles that.
    /// </summary>
    private protected async IAsyncEnumerable<CapturedChange> BackfillAsync(Func<long> nextSequence, Func<long> lastSequence, Backoff backoff,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken token)
    {
        bool requested;
        try
        {
            requested = await Control.UseAsync(Snapshot.TakeNewRequestsAsync, token).ConfigureAwait(false);
        }
        catch (NpgsqlException)
        {
            requested = false;
        }
        if (requested)
        {
            await foreach (var read in SnapshotAsync(nextSequence, lastSequence, backoff, token).ConfigureAwait(false))
            {
                yield return read;
            }
        }
    }

    /// <summary>The mode's reading after start-up: the snapshot (<see cref="SnapshotAsync"/>), then its stream, until cancelled.</summary>
    private protected abstract IAsyncEnumerable<CapturedChange> StreamAsync(Backoff backoff, CancellationToken token);

    /// <summary>The start-up work on the control connection (checks, snapshot preparation), tried again after a transient failure.</summary>
    private protected abstract Task PrepareAsync(NpgsqlConnection connection, CancellationToken token);

    /// <summary>A failure of <see cref="PrepareAsync"/> that retrying cannot fix, said in the mode's words; null: thrown as it is.</summary>
    private protected virtual Exception? StartFailure(PostgresException error) => null;

    /// <summary>Prepared: whether the capture counts as ready before its stream is up.</summary>
    private protected abstract bool ReadyAfterStart { get; }

    private async Task StartAsync(Backoff backoff, CancellationToken token)
    {
        try
        {
            await Reconnect.StartAsync(Control, PrepareAsync, Options.RetryInitialConnection,
                (error, when) => FailedAsync(error, when, backoff, token), token).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (StartFailure(ex) is { } failure)
        {
            throw failure;
        }
        _ready = ReadyAfterStart;
        backoff.Reset();
    }

    public async ValueTask AcknowledgeAsync(CapturedChange change, CancellationToken cancellationToken)
    {
        // Only this capture's own positions: a change of another capture (one gone in a handover) is ignored.
        var sequence = Issuer.SequenceOf(change);
        if (sequence == 0 || _lifetime.IsDisposed)
        {
            return;
        }
        await AcknowledgeAsync(sequence, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every change up to this sequence number is acknowledged: the mode's bookkeeping and flushes.</summary>
    private protected abstract ValueTask AcknowledgeAsync(long sequence, CancellationToken cancellationToken);

    /// <summary>A transient failure: not ready, announced with the wait the backoff picked, then waited out.</summary>
    private protected Task FailedAsync(Exception error, string when, Backoff backoff, CancellationToken token)
    {
        _ready = false;
        return Reconnect.WaitOutAsync(backoff, delay => LostConnectionNotice(error, when, delay), Notice, token);
    }

    /// <summary>The notice for a lost connection: the mode's words, with what it means for the changes.</summary>
    private protected abstract string LostConnectionNotice(Exception error, string when, TimeSpan delay);

    private protected void Raise(string message, bool possibleLoss) => Notice.RaiseSafely(message, possibleLoss);

    public async ValueTask DisposeAsync()
    {
        if (!_lifetime.BeginDispose())
        {
            return;
        }
        _ready = false;
        Stopping();
        try
        {
            using var timeout = new CancellationTokenSource(CloseFlushTimeout);
            await FlushOnCloseAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or PostgresException || TransientErrors.IsTransient(ex))
        {
            // Not written now: acknowledged changes come again to the next reader (at least once, never lost).
        }
        await StoppedAsync().ConfigureAwait(false);
        await Control.DisposeAsync().ConfigureAwait(false);
        _lifetime.Dispose();
    }

    /// <summary>Disposing, before the last flush: stop the mode's helpers.</summary>
    private protected virtual void Stopping()
    {
    }

    /// <summary>How long the last flush may take.</summary>
    private protected abstract TimeSpan CloseFlushTimeout { get; }

    /// <summary>Writes what was acknowledged, so the next reader does not get it again.</summary>
    private protected abstract Task FlushOnCloseAsync(CancellationToken token);

    /// <summary>After the last flush, before the control connection closes: wait for the mode's helpers.</summary>
    private protected virtual ValueTask StoppedAsync() => ValueTask.CompletedTask;
}
