namespace PostgresSource.Core.Capture.Reliability;

/// <summary>Exponential backoff with jitter between reconnect attempts.</summary>
internal sealed class Backoff(TimeSpan initial, TimeSpan max)
{
    private int _attempt;

    public TimeSpan Next()
    {
        var factor = Math.Pow(2, Math.Min(_attempt++, 16));
        var delay = Math.Min(initial.TotalMilliseconds * factor, max.TotalMilliseconds);
        var jitter = 0.8 + Random.Shared.NextDouble() * 0.4;
        return TimeSpan.FromMilliseconds(Math.Max(1, delay * jitter));
    }

    public void Reset() => _attempt = 0;

    public int Attempts => _attempt;
}
