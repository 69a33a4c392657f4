namespace PostgresSource.Core.Listening;

/// <summary>
/// A listener's running counts, for progress output and metrics. Written by the listener's tasks,
/// read from anywhere: every member is thread-safe.
/// </summary>
public sealed class ListenerStatistics
{
    private long _received;
    private long _delivered;
    private long _retried;
    private long _failed;
    private long _deadLettered;
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

    internal void OnReceived()
    {
        Interlocked.Increment(ref _received);
        var now = Interlocked.Increment(ref _buffered);
        int seen;
        while (now > (seen = Volatile.Read(ref _maxBuffered)) && Interlocked.CompareExchange(ref _maxBuffered, now, seen) != seen)
        {
        }
    }

    internal void OnFinished() => Interlocked.Decrement(ref _buffered);
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
        (LastError is null ? string.Empty : $"; last error: {LastError}");
}
