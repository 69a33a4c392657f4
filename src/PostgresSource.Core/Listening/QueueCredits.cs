namespace PostgresSource.Core.Listening;

/// <summary>
/// The listener's room for held events. The producer takes one credit per event; finished events give them
/// back in groups rather than one by one: with a full queue, every single returned credit would wake the
/// waiting producer for one event, a thread wake-up per event. Whatever is held goes back as soon as the
/// finisher has nothing more queued, so the producer never waits while the consumer is idle.
/// </summary>
internal sealed class QueueCredits : IDisposable
{
    private readonly SemaphoreSlim _available;
    private readonly int _group;
    private int _held;

    public QueueCredits(int capacity)
    {
        _available = new SemaphoreSlim(capacity, capacity);
        // A quarter of the queue: the producer refills in bursts while the consumer still has work queued.
        _group = Math.Max(1, capacity / 4);
    }

    public Task TakeAsync(CancellationToken cancellationToken) => _available.WaitAsync(cancellationToken);

    /// <summary>One event is finished. Called by one finisher at a time (the ordered consumer or the acknowledger).</summary>
    /// <param name="moreQueued">Whether the finisher has another event waiting; if not, every held credit goes back now.</param>
    public void Return(bool moreQueued)
    {
        _held++;
        if (_held >= _group || !moreQueued)
        {
            var count = _held;
            _held = 0;
            _available.Release(count);
        }
    }

    public void Dispose() => _available.Dispose();
}
