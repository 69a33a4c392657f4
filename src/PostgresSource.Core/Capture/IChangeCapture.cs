using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Capture;

/// <summary>Something the operator should know that is not an error: a reconnect, a possible gap.</summary>
internal sealed record CaptureNotice(string Message, bool PossibleLoss);

/// <summary>
/// One capture mode's way of reading a source's changes, in commit order. Each mode (Notify, Durable,
/// Logical) is one implementation; the listener does not know which it drives.
/// </summary>
internal interface IChangeCapture : IAsyncDisposable
{
    CaptureMode Mode { get; }

    /// <summary>Raised (from any thread) on reconnects and other notable conditions.</summary>
    event Action<CaptureNotice>? Notice;

    /// <summary>True while connected and capturing (the adapter's readiness).</summary>
    bool IsReady { get; }

    /// <summary>
    /// Changes in order, until cancelled. A lost connection is retried with backoff inside; the sequence
    /// only ends on cancellation or on an error that retrying cannot fix (bad configuration, permissions).
    /// </summary>
    IAsyncEnumerable<CapturedChange> ReadAllAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The sink has acknowledged this change and every one before it: the mode may checkpoint or
    /// remove them. Notify mode has nothing to do; Durable and Logical must never lose an unacknowledged change.
    /// </summary>
    ValueTask AcknowledgeAsync(CapturedChange change, CancellationToken cancellationToken);
}
