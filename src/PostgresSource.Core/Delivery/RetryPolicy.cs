namespace PostgresSource.Core.Delivery;

/// <summary>
/// Knative's delivery rules: 2xx is an ack; 404, 408, 409, 429, 5xx and network errors are retried with
/// exponential backoff and jitter; other statuses are not retried. A sink's Retry-After is honoured up
/// to <see cref="MaxDelay"/>.
/// </summary>
public sealed record RetryPolicy
{
    /// <summary>Attempts in all, the first one included (1 = no retry).</summary>
    public int MaxAttempts { get; init; } = 5;

    /// <summary>The wait before the first retry; doubled for each one after.</summary>
    public TimeSpan InitialDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Each wait is varied by up to this fraction either way, so many listeners do not retry in step.</summary>
    public double Jitter { get; init; } = 0.2;

    public static RetryPolicy Default { get; } = new();

    public RetryPolicy Validate()
    {
        if (MaxAttempts < 1) throw new ArgumentOutOfRangeException(nameof(MaxAttempts), MaxAttempts, "At least one attempt is needed.");
        if (InitialDelay < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(InitialDelay), InitialDelay, "The delay must not be negative.");
        if (MaxDelay < InitialDelay) throw new ArgumentOutOfRangeException(nameof(MaxDelay), MaxDelay, "The maximum delay must not be below the initial delay.");
        if (Jitter is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(Jitter), Jitter, "Jitter is a fraction between 0 and 1.");
        return this;
    }

    public static bool IsRetryableStatus(int statusCode) => statusCode is 404 or 408 or 409 or 429 or (>= 500 and <= 599);

    public static bool IsSuccessStatus(int statusCode) => statusCode is >= 200 and <= 299;

    /// <summary>The wait before retry number <paramref name="retry"/> (1 for the first retry).</summary>
    public TimeSpan DelayBeforeRetry(int retry, TimeSpan? retryAfter = null)
    {
        var exponent = Math.Min(Math.Max(retry - 1, 0), 30);
        var baseMs = Math.Min(InitialDelay.TotalMilliseconds * Math.Pow(2, exponent), MaxDelay.TotalMilliseconds);
        var factor = 1 + ((Random.Shared.NextDouble() * 2) - 1) * Jitter;
        var delay = TimeSpan.FromMilliseconds(Math.Min(baseMs * factor, MaxDelay.TotalMilliseconds));
        if (retryAfter is { } asked && asked > delay)
        {
            delay = asked < MaxDelay ? asked : MaxDelay;
        }
        return delay;
    }
}
