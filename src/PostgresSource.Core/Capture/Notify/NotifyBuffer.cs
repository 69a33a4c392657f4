using System.Threading.Channels;

namespace PostgresSource.Core.Capture.Notify;

/// <summary>
/// Notify mode's notification payloads read from the LISTEN connection and not yet taken by the consumer, in arrival
/// order (each becomes a change when taken). Bounded twice: at most <see cref="Capacity"/> payloads and at most
/// <see cref="MaxBytes"/> bytes of payload text (two bytes per character, as .NET holds it). A payload that does not
/// fit is refused (<see cref="TryAdd"/> returns false) and nothing already held is touched: the newest arrivals are
/// the ones dropped, so what is buffered stays whole and in order. Adding never waits: it runs in Npgsql's
/// notification callback. One consumer takes at a time.
/// </summary>
internal sealed class NotifyBuffer
{
    private readonly object _gate = new();
    private readonly Channel<string> _entries = Channel.CreateUnbounded<string>(new UnboundedChannelOptions
    {
        SingleReader = true,
        // Continuations of a waiting consumer must not run inside the notification callback.
        AllowSynchronousContinuations = false,
    });
    private int _count;
    private long _bytes;
    private int _peak;

    public NotifyBuffer(int capacity, long maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        Capacity = capacity;
        MaxBytes = maxBytes;
    }

    public int Capacity { get; }

    public long MaxBytes { get; }

    /// <summary>Payloads held now.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Payload bytes held now (see <see cref="CostOf"/>).</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>The most payloads held at once so far.</summary>
    public int Peak => Volatile.Read(ref _peak);

    /// <summary>What a payload counts against <see cref="MaxBytes"/>: its text as held in memory, two bytes per character.</summary>
    public static long CostOf(string payload) => 2L * payload.Length;

    /// <summary>Adds the payload at the end if both bounds allow it; false (and nothing changed) if not.</summary>
    public bool TryAdd(string payload)
    {
        var cost = CostOf(payload);
        lock (_gate)
        {
            if (_count >= Capacity || _bytes + cost > MaxBytes)
            {
                return false;
            }
            // Inside the lock, so two adders cannot swap places; an unbounded channel's write never waits.
            if (!_entries.Writer.TryWrite(payload))
            {
                return false;
            }
            _count++;
            _bytes += cost;
            if (_count > _peak)
            {
                _peak = _count;
            }
        }
        return true;
    }

    /// <summary>Takes the oldest payload, if any.</summary>
    public bool TryTake(out string payload)
    {
        if (!_entries.Reader.TryRead(out payload!))
        {
            return false;
        }
        var cost = CostOf(payload);
        lock (_gate)
        {
            _count--;
            _bytes -= cost;
        }
        return true;
    }

    /// <summary>True once a payload can be taken; false when the buffer is completed and empty.</summary>
    public ValueTask<bool> WaitToTakeAsync(CancellationToken cancellationToken) => _entries.Reader.WaitToReadAsync(cancellationToken);

    /// <summary>No more payloads will come (the reader ended); what is held can still be taken.</summary>
    public void Complete() => _entries.Writer.TryComplete();

    /// <summary>Drops everything held (the capture stopped).</summary>
    public void Clear()
    {
        while (TryTake(out _))
        {
        }
    }
}
