using System.Collections.Concurrent;

namespace PostgresSource.PowerShell.Infrastructure;

/// <summary>
/// The one way back to the pipeline thread: background tasks (the core's continuations, listener reports, events)
/// put items here from any thread, and the pipeline thread takes them and does the Write* calls PowerShell allows
/// only there. <see cref="PipelineThreadPump"/> runs awaited core work through it, Start-PgSourceListener its events.
/// </summary>
internal sealed class PipelineInbox<T> : IDisposable
{
    private readonly ConcurrentQueue<T> _items = new();
    private readonly SemaphoreSlim _signal = new(0);
    // Post and Close take it, so no item slips in after a reader saw the inbox closed and empty.
    private readonly object _gate = new();
    private bool _closed;

    /// <summary>Any thread. False once <see cref="Close"/> was called: the item was not queued.</summary>
    public bool Post(T item)
    {
        lock (_gate)
        {
            if (_closed)
            {
                return false;
            }
            _items.Enqueue(item);
            // Inside the lock: once the reader saw the inbox closed and empty (and may dispose it), no Release can follow.
            _signal.Release();
        }
        return true;
    }

    /// <summary>Pipeline thread: the next item, if one waits.</summary>
    public bool TryTake(out T item) => _items.TryDequeue(out item!);

    /// <summary>Pipeline thread: waits until an item may be there, the timeout passed, or the token is cancelled (throws).</summary>
    public void Wait(TimeSpan timeout, CancellationToken cancellationToken) => _signal.Wait(timeout, cancellationToken);

    public bool IsEmpty => _items.IsEmpty;

    /// <summary>What waits now, not taken (for cancelling hand-offs nobody will write).</summary>
    public IEnumerable<T> Pending => _items;

    /// <summary>No more items are accepted; those queued can still be taken.</summary>
    public void Close()
    {
        lock (_gate)
        {
            if (!_closed)
            {
                _closed = true;
                // Wakes a waiting reader, which then sees the inbox closed.
                _signal.Release();
            }
        }
    }

    public bool IsClosed
    {
        get
        {
            lock (_gate)
            {
                return _closed;
            }
        }
    }

    public void Dispose() => _signal.Dispose();
}
