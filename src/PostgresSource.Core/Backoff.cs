namespace PostgresSource.Core;

/// <summary>
/// The one exponential backoff: <see cref="Initial"/> doubled per attempt up to <see cref="Max"/>, varied by up to
/// <see cref="Jitter"/> either way so that many listeners do not retry in step. Used for reconnects (the captures),
/// delivery retries (<see cref="Delivery.RetryPolicy"/>) and start-up steps of the hosts.
/// Stateless through <see cref="Delay"/>; <see cref="Next"/> and <see cref="Reset"/> count the attempts for a caller
/// that retries one thing in a loop.
/// </summary>
internal sealed class Backoff(TimeSpan initial, TimeSpan max, double jitter = Backoff.DefaultJitter)
{
    public const double DefaultJitter = 0.2;

    // Far past any cap: 2^30 times even a millisecond is twelve days.
    private const int MaxExponent = 30;

    private int _attempt;

    public TimeSpan Initial => initial;

    public TimeSpan Max => max;

    public double Jitter => jitter;

    /// <summary>Attempts counted by <see cref="Next"/> since the last <see cref="Reset"/>.</summary>
    public int Attempts => _attempt;

    /// <summary>The wait before attempt number <paramref name="attempt"/> of retrying (1: the first wait), jittered.</summary>
    public TimeSpan Delay(int attempt)
    {
        var exponent = Math.Min(Math.Max(attempt - 1, 0), MaxExponent);
        var capped = Math.Min(initial.TotalMilliseconds * Math.Pow(2, exponent), max.TotalMilliseconds);
        var factor = 1 + ((Random.Shared.NextDouble() * 2) - 1) * jitter;
        return TimeSpan.FromMilliseconds(capped * factor);
    }

    /// <summary>The next wait of a retry loop (at least a millisecond, so a zero delay never spins).</summary>
    public TimeSpan Next()
    {
        var delay = Delay(++_attempt);
        return delay < TimeSpan.FromMilliseconds(1) ? TimeSpan.FromMilliseconds(1) : delay;
    }

    /// <summary>It worked: the next failure waits <see cref="Initial"/> again.</summary>
    public void Reset() => _attempt = 0;
}
