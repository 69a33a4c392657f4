using System.Threading.Channels;

namespace PostgresSource.Core.Capture;

/// <summary>
/// Notify mode's changes read from the LISTEN connection and not yet taken by the consumer, in arrival order.
/// Bounded twice: at most <see cref="Capacity"/> changes and at most <see cref="MaxBytes"/> bytes of payload
/// text (two bytes per character, as .NET holds it). A change that does not fit is refused
/// (<see cref="TryAdd"/> returns false) and nothing already held is touched: the newest arrivals are the ones
/// dropped, so what is buffered stays whole and in order. Adding never waits: it runs in Npgsql's notification
/// callback. One consumer takes at a time.
/// </summary>
internal sealed class NotifyBuffer
{
    private readonly object _gate = new();
    private readonly Channel<Entry> _entries = Channel.CreateUnbounded<Entry>(new UnboundedChannelOptions
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

    /// <summary>Changes held now.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Payload bytes held now (see <see cref="CostOf"/>).</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>The most changes held at once so far.</summary>
    public int Peak => Volatile.Read(ref _peak);

    /// <summary>What a change counts against <see cref="MaxBytes"/>: its payload text as held in memory, two bytes per character.</summary>
    public static long CostOf(CapturedChange change) => 2L * change.PayloadJson.Length;

    /// <summary>Adds the change at the end if both bounds allow it; false (and nothing changed) if not.</summary>
    public bool TryAdd(CapturedChange change)
    {
        var cost = CostOf(change);
        lock (_gate)
        {
            if (_count >= Capacity || _bytes + cost > MaxBytes)
            {
                return false;
            }
            // Inside the lock, so two adders cannot swap places; an unbounded channel's write never waits.
            if (!_entries.Writer.TryWrite(new Entry(change, cost)))
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

    /// <summary>Takes the oldest change, if any.</summary>
    public bool TryTake(out CapturedChange change)
    {
        if (!_entries.Reader.TryRead(out var entry))
        {
            change = null!;
            return false;
        }
        lock (_gate)
        {
            _count--;
            _bytes -= entry.Cost;
        }
        change = entry.Change;
        return true;
    }

    /// <summary>True once a change can be taken; false when the buffer is completed and empty.</summary>
    public ValueTask<bool> WaitToTakeAsync(CancellationToken cancellationToken) => _entries.Reader.WaitToReadAsync(cancellationToken);

    /// <summary>No more changes will come (the reader ended); what is held can still be taken.</summary>
    public void Complete() => _entries.Writer.TryComplete();

    /// <summary>Drops everything held (the capture stopped).</summary>
    public void Clear()
    {
        while (TryTake(out _))
        {
        }
    }

    private readonly record struct Entry(CapturedChange Change, long Cost);
}
