namespace PostgresSource.PowerShell.Infrastructure;

/// <summary>
/// One item (an event) handed to the pipeline thread through a <see cref="PipelineInbox{T}"/>, with the writer waiting on <see cref="Taken"/>.
/// Pending until that thread claims it to write it (then only that
/// thread settles it: taken or not) or until it is cancelled (never written).
/// </summary>
internal sealed class PipelineHandoff<T>(T item)
{
    private const int Pending = 0;
    private const int Writing = 1;
    private const int Settled = 2;
    private int _state;

    public T Item { get; } = item;

    public TaskCompletionSource Taken { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The pipeline thread is about to write it; false when it was cancelled first.</summary>
    public bool TryClaim() => Interlocked.CompareExchange(ref _state, Writing, Pending) == Pending;

    /// <summary>The pipeline thread's verdict after writing.</summary>
    public void Complete(bool taken)
    {
        Volatile.Write(ref _state, Settled);
        if (taken)
        {
            Taken.TrySetResult();
        }
        else
        {
            Taken.TrySetCanceled();
        }
    }

    /// <summary>Not written: cancelled, unless the pipeline thread is writing it right now.</summary>
    public void Cancel()
    {
        if (Interlocked.CompareExchange(ref _state, Settled, Pending) == Pending)
        {
            Taken.TrySetCanceled();
        }
    }
}
