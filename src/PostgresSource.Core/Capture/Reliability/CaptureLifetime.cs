namespace PostgresSource.Core.Capture.Reliability;

/// <summary>
/// The preamble every capture with a lifetime repeats: it is read once, its reading ends when it is disposed, and it
/// is disposed once. <see cref="ReliableCapture"/> and <see cref="SingleActiveCapture"/> both keep one.
/// </summary>
internal sealed class CaptureLifetime : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private int _started;
    private int _disposed;

    public CaptureLifetime()
    {
        // Taken now: an acknowledgement racing the disposal may still look at it after the source is disposed.
        Token = _stop.Token;
    }

    /// <summary>Cancelled when the capture is disposed.</summary>
    public CancellationToken Token { get; }

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>The token of the one reading: the caller's, cancelled also when the capture is disposed.</summary>
    /// <exception cref="InvalidOperationException">The capture was read before.</exception>
    public CancellationTokenSource BeginRead(CancellationToken caller)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("A capture is read once.");
        }
        return CancellationTokenSource.CreateLinkedTokenSource(caller, _stop.Token);
    }

    /// <summary>True the first time only: then the reading is cancelled and the caller disposes the rest.</summary>
    public bool BeginDispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return false;
        }
        _stop.Cancel();
        return true;
    }

    public void Dispose() => _stop.Dispose();
}
