namespace PostgresSource.PowerShell.Infrastructure;

/// <summary>
/// An <see cref="IProgress{T}"/> for background reporters that keeps only the newest value. The pipeline
/// thread is woken once per value it has not taken yet, so a fast reporter cannot flood the cmdlet's queue:
/// older values are simply replaced, because only the latest progress matters to the user.
/// </summary>
internal sealed class LatestOnlyProgress<T>(Action wake) : IProgress<T> where T : class
{
    private T? _latest;

    public void Report(T value)
    {
        // Only the report that fills an empty slot wakes the reader; later ones ride on that wake-up.
        if (Interlocked.Exchange(ref _latest, value) is null)
        {
            wake();
        }
    }

    /// <summary>The newest value not taken yet, or null. Called by the thread <c>wake</c> woke.</summary>
    public T? Take() => Interlocked.Exchange(ref _latest, null);
}
