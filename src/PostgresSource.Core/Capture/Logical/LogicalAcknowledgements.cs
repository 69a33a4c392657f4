using Npgsql.Replication;
using NpgsqlTypes;

namespace PostgresSource.Core.Capture.Logical;

/// <summary>
/// Which server position this capture may confirm: the end of the last transaction all of whose changes
/// (and those of every transaction before it) the sink has acknowledged, so after a crash or restart the
/// stream resumes there and a partly acknowledged transaction comes again whole. While nothing is
/// outstanding, the position follows the server's WAL (keepalives, transactions without changes for this
/// publication), so an idle source does not hold WAL back.
/// The connection is only told the position (SetReplicationStatus sets two fields); Npgsql sends it with its
/// standby status update every <see cref="CaptureOptions.StatusInterval"/>, not once per change.
/// Used by the stream reader, the acknowledging consumer and the quiet-stream reporter at once: all under one lock.
/// </summary>
internal sealed class LogicalAcknowledgements
{
    private readonly object _lock = new();
    private readonly Queue<(long LastSequence, ulong End)> _committed = new();
    private LogicalReplicationConnection? _connection;
    private long _sequence;
    private long _acknowledged;
    private ulong _confirmed;
    private bool _inTransaction;

    /// <summary>Numbers every change (snapshot reads too) in the order the consumer receives them.</summary>
    public long NextSequence() => Interlocked.Increment(ref _sequence);

    public long LastSequence() => Interlocked.Read(ref _sequence);

    public long Acknowledged
    {
        get
        {
            lock (_lock)
            {
                return _acknowledged;
            }
        }
    }

    /// <summary>The position told to the server as flushed (0: none yet).</summary>
    public ulong Confirmed
    {
        get
        {
            lock (_lock)
            {
                return _confirmed;
            }
        }
    }

    /// <summary>Starts from a position an earlier capture recorded (never moves back).</summary>
    public void Restore(ulong recorded)
    {
        lock (_lock)
        {
            _confirmed = Math.Max(_confirmed, recorded);
        }
    }

    public void Attach(LogicalReplicationConnection connection)
    {
        lock (_lock)
        {
            _connection = connection;
            if (_confirmed > 0)
            {
                connection.SetReplicationStatus(new NpgsqlLogSequenceNumber(_confirmed));
            }
        }
    }

    /// <summary>The stream ended: a transaction cut off mid-way comes again whole from the server.</summary>
    public void Detach()
    {
        lock (_lock)
        {
            _connection = null;
            _inTransaction = false;
        }
    }

    public void TransactionBegan()
    {
        lock (_lock)
        {
            _inTransaction = true;
        }
    }

    /// <summary>A transaction ended at <paramref name="end"/>: confirmable once every change numbered so far is acknowledged.</summary>
    public void TransactionCommitted(ulong end)
    {
        lock (_lock)
        {
            _inTransaction = false;
            _committed.Enqueue((LastSequence(), end));
            AdvanceLocked();
        }
    }

    /// <summary>The sink has every change up to <paramref name="sequence"/>; false when that was known already.</summary>
    public bool Acknowledge(long sequence)
    {
        lock (_lock)
        {
            if (sequence <= _acknowledged)
            {
                return false;
            }
            _acknowledged = sequence;
            AdvanceLocked();
            return true;
        }
    }

    /// <summary>
    /// The stream is quiet: with nothing in flight, everything the server sent before its latest keepalive was
    /// handled and acknowledged, so the confirmed position may follow what the connection received.
    /// </summary>
    public void FollowQuietServer(LogicalReplicationConnection connection)
    {
        lock (_lock)
        {
            if (!_inTransaction && _committed.Count == 0 && _acknowledged >= LastSequence())
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
            _connection?.SetReplicationStatus(new NpgsqlLogSequenceNumber(_confirmed));
        }
    }
}
