namespace PostgresSource.Kubernetes.Controller;

/// <summary>
/// Keys of sources to reconcile. A key is queued once however often it is added, is never handed to two workers at
/// once (an add while it is being reconciled queues it again for afterwards), and a failing key waits longer each time.
/// </summary>
internal sealed class WorkQueue(TimeSpan backoffBase, TimeSpan backoffMax) : IDisposable
{
    private readonly object _gate = new();
    private readonly Queue<string> _ready = new();
    private readonly HashSet<string> _queued = new(StringComparer.Ordinal);
    private readonly HashSet<string> _active = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _failures = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TimeSpan> _delayed = new(StringComparer.Ordinal);
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly CancellationTokenSource _stop = new();

    public int Depth
    {
        get
        {
            lock (_gate)
            {
                return _queued.Count;
            }
        }
    }

    public void Add(string key)
    {
        lock (_gate)
        {
            if (_queued.Add(key) && !_active.Contains(key))
            {
                _ready.Enqueue(key);
                _signal.Release();
            }
        }
    }

    /// <summary>Adds the key after a delay. A key waits on one timer at most: the earliest asked for wins.</summary>
    public void AddAfter(string key, TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
        {
            Add(key);
            return;
        }
        var due = _clock.Elapsed + delay;
        lock (_gate)
        {
            if (_delayed.TryGetValue(key, out var pending) && pending <= due)
            {
                return;
            }
            _delayed[key] = due;
        }
        _ = Task.Delay(delay, _stop.Token).ContinueWith(t =>
        {
            lock (_gate)
            {
                if (t.IsCanceled || !_delayed.TryGetValue(key, out var pending) || pending != due)
                {
                    return; // stopped, or superseded by an earlier timer
                }
                _delayed.Remove(key);
            }
            Add(key);
        }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    /// <summary>Keys waiting on a timer.</summary>
    public int Delayed
    {
        get
        {
            lock (_gate)
            {
                return _delayed.Count;
            }
        }
    }

    /// <summary>The next key; the caller calls <see cref="Done"/> when it has finished with it.</summary>
    public async Task<string> TakeAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            await _signal.WaitAsync(cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                if (_ready.TryDequeue(out var key))
                {
                    _queued.Remove(key);
                    _active.Add(key);
                    return key;
                }
            }
        }
    }

    public void Done(string key)
    {
        lock (_gate)
        {
            _active.Remove(key);
            if (_queued.Contains(key))
            {
                _ready.Enqueue(key);
                _signal.Release();
            }
        }
    }

    /// <summary>Counts a failure of the key and answers how long to wait before the next try.</summary>
    public TimeSpan Failed(string key)
    {
        lock (_gate)
        {
            var failures = _failures[key] = _failures.GetValueOrDefault(key) + 1;
            var delay = backoffBase.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 30));
            return TimeSpan.FromMilliseconds(Math.Min(delay, backoffMax.TotalMilliseconds));
        }
    }

    /// <summary>The key succeeded: its next failure starts the backoff again.</summary>
    public void Forget(string key)
    {
        lock (_gate)
        {
            _failures.Remove(key);
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
        _signal.Dispose();
    }
}
