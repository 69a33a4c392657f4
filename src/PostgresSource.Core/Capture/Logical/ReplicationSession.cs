using Npgsql;
using Npgsql.Replication;
using Npgsql.Replication.PgOutput;
using Npgsql.Replication.PgOutput.Messages;
using NpgsqlTypes;

namespace PostgresSource.Core.Capture.Logical;

/// <summary>
/// One START_REPLICATION stream of the source's slot. Reads its messages one at a time; a quiet-stream watch
/// beside it tells the server the confirmed position whenever the reader has waited a whole status interval
/// for a message (moved with the WAL when nothing is outstanding: see <see cref="LogicalAcknowledgements"/>),
/// and marks the stream as up when its first half second passes without an error.
/// The watch is one timer loop per stream rather than a timeout around every read, so reading a message
/// costs no timer, task or cancellation source.
/// </summary>
internal sealed class ReplicationSession : IAsyncDisposable
{
    private static readonly TimeSpan FirstLook = TimeSpan.FromMilliseconds(500);

    private readonly LogicalReplicationConnection _connection;
    private readonly IAsyncEnumerator<PgOutputReplicationMessage> _messages;
    private readonly LogicalAcknowledgements _acknowledgements;
    private readonly CancellationTokenSource _watchStop = new();
    private readonly Task _watch;
    private readonly object _endLock = new();
    private long _received;
    private volatile bool _waiting;
    private bool _ended;

    private ReplicationSession(LogicalReplicationConnection connection, IAsyncEnumerator<PgOutputReplicationMessage> messages,
        LogicalAcknowledgements acknowledgements, TimeSpan statusInterval, Action streaming)
    {
        _connection = connection;
        _messages = messages;
        _acknowledgements = acknowledgements;
        _watch = Task.Run(() => WatchQuietAsync(statusInterval, streaming, _watchStop.Token), CancellationToken.None);
    }

    /// <param name="start">Where to start; 0: the slot's confirmed position.</param>
    /// <param name="streaming">Called when the stream has been up and quiet for a while (the capture is ready).</param>
    public static ReplicationSession Start(LogicalReplicationConnection connection, string name, ulong start,
        LogicalAcknowledgements acknowledgements, TimeSpan statusInterval, Action streaming, CancellationToken stop)
    {
        var messages = connection.StartReplication(
            new PgOutputReplicationSlot(name),
            // Logical decoding messages too (PostgreSQL 14+): a backfill request announces itself with one.
            new PgOutputReplicationOptions(name, PgOutputProtocolVersion.V1, binary: false, messages: connection.PostgreSqlVersion.Major >= 14 ? true : null),
            stop,
            start > 0 ? new NpgsqlLogSequenceNumber(start) : null).GetAsyncEnumerator(stop);
        return new ReplicationSession(connection, messages, acknowledgements, statusInterval, streaming);
    }

    /// <summary>The next message, null when the server ended the stream, or the error that ended it. Returns only once the read has finished.</summary>
    /// <param name="outer">The capture's own cancellation, as opposed to the stream's stop (which the server watch also triggers).</param>
    public async ValueTask<(PgOutputReplicationMessage? Message, Exception? Error)> NextAsync(CancellationToken outer)
    {
        try
        {
            bool more;
            _waiting = true;
            try
            {
                more = await _messages.MoveNextAsync().ConfigureAwait(false);
            }
            finally
            {
                _waiting = false;
                Interlocked.Increment(ref _received);
            }
            if (!more)
            {
                End();
            }
            return more ? (_messages.Current, null) : (null, null);
        }
        catch (OperationCanceledException ex) when (!outer.IsCancellationRequested)
        {
            End();
            return (null, new NpgsqlException("The server is shutting down or ended this capture's sessions; the stream is reopened when it is back.", ex));
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !outer.IsCancellationRequested)
        {
            End();
            return (null, ex);
        }
    }

    /// <summary>The stream is over: from now on the watch no longer says it is up (the capture is not ready while it reconnects).</summary>
    private void End()
    {
        lock (_endLock)
        {
            _ended = true;
        }
    }

    /// <summary>Whether the reader has been waiting since the last look (at the first look: for its first message); if so, the stream is up.</summary>
    private bool QuietSince(long seen, long received, Action streaming)
    {
        lock (_endLock)
        {
            var quiet = !_ended && _waiting && (received == seen || received == 0);
            if (quiet)
            {
                streaming();
            }
            return quiet;
        }
    }

    /// <summary>Reports the confirmed position each time the reader has waited a whole interval with no message (the first look after half a second).</summary>
    private async Task WatchQuietAsync(TimeSpan interval, Action streaming, CancellationToken stop)
    {
        var wait = interval < FirstLook ? interval : FirstLook;
        var seen = -1L;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(wait, stop).ConfigureAwait(false);
                wait = interval;
                var received = Interlocked.Read(ref _received);
                var quiet = QuietSince(seen, received, streaming);
                seen = received;
                if (quiet)
                {
                    _acknowledgements.FollowQuietServer(_connection);
                    await _connection.SendStatusUpdate(stop).ConfigureAwait(false);
                }
            }
            catch (Exception)
            {
                // Stopped with the stream, or not streaming (yet, or any more): the stream's own failure surfaces from the
                // pending read, and a report that failed is made again at the next look. Any exception: a status update
                // racing the stream's teardown can fail inside Npgsql with a NullReferenceException (seen in CI), and the
                // watch must never turn a clean stop into an error (DisposeAsync awaits it).
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _watchStop.Cancel();
        await _watch.ConfigureAwait(false);
        _watchStop.Dispose();
        try
        {
            await _messages.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Cleaning up after a stream that is going away anyway.
        }
    }
}
