using System.Collections.Concurrent;
using PostgresSource.Core.Delivery;

namespace PostgresSource.Core.Listening;

/// <summary>What the sink's last answer says about it.</summary>
internal enum SinkState
{
    /// <summary>Nothing sent yet.</summary>
    Unknown,
    /// <summary>The last attempt was acknowledged.</summary>
    Up,
    /// <summary>The last attempt failed in a way worth retrying (5xx, 404, 408, 409, 429, network, timeout): the stream is held back.</summary>
    Down,
    /// <summary>The last attempt was refused for good (another 4xx, an unfollowed redirect).</summary>
    Refusing,
}

/// <summary>
/// A listener's running counts, for progress output and metrics. Written by the listener's tasks,
/// read from anywhere: every member is thread-safe.
/// </summary>
internal sealed class ListenerStatistics
{
    private long _received;
    private long _delivered;
    private long _retried;
    private long _failed;
    private long _deadLettered;
    private long _skipped;
    private long _undelivered;
    private long _tableChanges;
    private int _tablesMissing;
    private int _sinkState;
    private long _sinkStateTicks;
    // Commit (or receive) times of the changes taken from the capture and not yet finished, oldest first.
    private readonly ConcurrentQueue<long> _unfinished = new();
    private readonly ConcurrentDictionary<string, long> _responses = new(StringComparer.Ordinal);
    private int _buffered;
    private int _maxBuffered;
    private volatile string? _lastError;
    private long _lastErrorTicks;

    /// <summary>Changes read from the capture.</summary>
    public long Received => Interlocked.Read(ref _received);
    /// <summary>Events the sink acknowledged.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);
    /// <summary>Retries made (attempts after the first), on the sink and the dead-letter sink.</summary>
    public long Retried => Interlocked.Read(ref _retried);
    /// <summary>Events neither the sink nor a dead-letter sink took, each reported.</summary>
    public long Failed => Interlocked.Read(ref _failed);
    /// <summary>Events the sink did not take and the dead-letter sink did.</summary>
    public long DeadLettered => Interlocked.Read(ref _deadLettered);
    /// <summary>Events nobody took that were acknowledged because skipping was chosen (each reported; also counted in <see cref="Failed"/>).</summary>
    public long Skipped => Interlocked.Read(ref _skipped);

    /// <summary>Changes left unacknowledged because the listener stopped before they were delivered (each reported).</summary>
    public long Undelivered => Interlocked.Read(ref _undelivered);

    /// <summary>Changes of a watched table seen while running: new columns, a rename, a drop.</summary>
    public long TableChanges => Interlocked.Read(ref _tableChanges);

    /// <summary>Tables of the source not where it names them at the last check (renamed, dropped, never found).</summary>
    public int TablesMissing => Volatile.Read(ref _tablesMissing);

    public void OnTableChange() => Interlocked.Increment(ref _tableChanges);

    public void SetTablesMissing(int count) => Volatile.Write(ref _tablesMissing, count);

    /// <summary>What the sink's last answer says: up, down (retrying), refusing.</summary>
    public SinkState SinkState => (SinkState)Volatile.Read(ref _sinkState);

    /// <summary>Since when <see cref="SinkState"/> holds.</summary>
    public DateTimeOffset? SinkStateSince => Interlocked.Read(ref _sinkStateTicks) is var t and > 0 ? new DateTimeOffset(t, TimeSpan.Zero) : null;

    /// <summary>Attempts on the sink by answer: the HTTP status ("202", "503") or "network" when there was none.</summary>
    public IReadOnlyDictionary<string, long> Responses => new SortedDictionary<string, long>(_responses, StringComparer.Ordinal);

    /// <summary>
    /// How long the oldest change taken from the capture and not yet acknowledged has existed (from its commit
    /// time where the mode knows it, else from when it was read); null when none is waiting.
    /// </summary>
    public TimeSpan? OldestUnacknowledgedAge =>
        _unfinished.TryPeek(out var ticks) ? DateTimeOffset.UtcNow - new DateTimeOffset(ticks, TimeSpan.Zero) : null;
    /// <summary>Events held by the listener now: read from the capture and not yet finished.</summary>
    public int Buffered => Volatile.Read(ref _buffered);
    /// <summary>The most events held at once since the start; never above the queue capacity.</summary>
    public int MaxBuffered => Volatile.Read(ref _maxBuffered);
    public string? LastError => _lastError;
    public DateTimeOffset? LastErrorTime => Interlocked.Read(ref _lastErrorTicks) is var t and > 0 ? new DateTimeOffset(t, TimeSpan.Zero) : null;

    /// <summary>From change received to the sink's (or dead-letter sink's) acknowledgement, queueing included.</summary>
    public LatencyHistogram DeliveryLatency { get; } = new();

    /// <summary>Delivered + dead-lettered + failed.</summary>
    public long Finished => Delivered + DeadLettered + Failed;

    internal void OnReceived(DateTimeOffset since)
    {
        _unfinished.Enqueue(since.UtcTicks);
        Interlocked.Increment(ref _received);
        var now = Interlocked.Increment(ref _buffered);
        int seen;
        while (now > (seen = Volatile.Read(ref _maxBuffered)) && Interlocked.CompareExchange(ref _maxBuffered, now, seen) != seen)
        {
        }
    }

    /// <summary>Changes finish in the order they were received (both consumers settle them in capture order).</summary>
    internal void OnFinished()
    {
        _unfinished.TryDequeue(out _);
        Interlocked.Decrement(ref _buffered);
    }

    internal void OnSkipped() => Interlocked.Increment(ref _skipped);
    internal void OnUndelivered() => Interlocked.Increment(ref _undelivered);

    internal void OnSinkAttempt(SendResult result)
    {
        var state = result.Acknowledged ? SinkState.Up : result.Retryable ? SinkState.Down : SinkState.Refusing;
        if (Interlocked.Exchange(ref _sinkState, (int)state) != (int)state || Interlocked.Read(ref _sinkStateTicks) == 0)
        {
            Interlocked.Exchange(ref _sinkStateTicks, DateTimeOffset.UtcNow.UtcTicks);
        }
        var key = result.StatusCode is { } code ? code.ToString(System.Globalization.CultureInfo.InvariantCulture) : "network";
        _responses.AddOrUpdate(key, 1, static (_, n) => n + 1);
    }
    internal void OnDelivered() => Interlocked.Increment(ref _delivered);
    internal void OnRetried() => Interlocked.Increment(ref _retried);
    internal void OnFailed() => Interlocked.Increment(ref _failed);
    internal void OnDeadLettered() => Interlocked.Increment(ref _deadLettered);

    internal void OnError(string message)
    {
        _lastError = message;
        Interlocked.Exchange(ref _lastErrorTicks, DateTimeOffset.UtcNow.UtcTicks);
    }

    public override string ToString() =>
        $"received {Received}, delivered {Delivered}, retried {Retried}, failed {Failed}, dead-lettered {DeadLettered}" +
        (Skipped > 0 ? $", skipped {Skipped}" : string.Empty) +
        (SinkState is SinkState.Down or SinkState.Refusing ? $"; sink {SinkState.ToString().ToLowerInvariant()} since {SinkStateSince:HH:mm:ss}" : string.Empty) +
        (OldestUnacknowledgedAge is { } age && age >= TimeSpan.FromSeconds(5) ? $"; oldest unacknowledged change {age.TotalSeconds:0} s old" : string.Empty) +
        (LastError is null ? string.Empty : $"; last error: {LastError}");
}
