namespace PostgresSource.Core.Delivery;

/// <summary>
/// Knative's delivery rules: 2xx is an ack; 404, 408, 409, 429, 5xx and network errors are retried with
/// capped exponential backoff and jitter; other statuses are not retried. A sink's Retry-After is honoured
/// up to <see cref="MaxDelay"/>. By default there is no limit: an at-least-once source holds its stream back
/// (the journal or slot keeps the backlog) until the sink takes the change. A limit (attempts or time) hands
/// the change to the dead-letter sink, or to the listener's <see cref="UndeliverableAction"/>, once reached.
/// </summary>
internal sealed record RetryPolicy
{
    /// <summary>Attempts in all, the first one included (1 = no retry); null: no limit.</summary>
    public int? MaxAttempts { get; init; }

    /// <summary>How long one change may be retried, from its first attempt; null: no limit.</summary>
    public TimeSpan? MaxRetryTime { get; init; }

    /// <summary>The wait before the first retry; doubled for each one after.</summary>
    public TimeSpan InitialDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Each wait is varied by up to this fraction either way, so many listeners do not retry in step.</summary>
    public double Jitter { get; init; } = 0.2;

    /// <summary>No limit, 200 ms doubling to 30 s.</summary>
    public static RetryPolicy Default { get; } = new();

    /// <summary>True when retrying ends by itself (an attempt or time limit is set).</summary>
    public bool IsLimited => MaxAttempts is not null || MaxRetryTime is not null;

    public RetryPolicy Validate()
    {
        if (MaxAttempts is < 1) throw new ArgumentOutOfRangeException(nameof(MaxAttempts), MaxAttempts, "At least one attempt is needed.");
        if (MaxRetryTime is { } time && time < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(MaxRetryTime), MaxRetryTime, "The retry time must not be negative.");
        if (InitialDelay < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(InitialDelay), InitialDelay, "The delay must not be negative.");
        if (MaxDelay < InitialDelay) throw new ArgumentOutOfRangeException(nameof(MaxDelay), MaxDelay, "The maximum delay must not be below the initial delay.");
        if (Jitter is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(Jitter), Jitter, "Jitter is a fraction between 0 and 1.");
        return this;
    }

    /// <summary>True while another attempt is allowed after <paramref name="attempts"/> made over <paramref name="elapsed"/>.</summary>
    public bool AllowsAnother(int attempts, TimeSpan elapsed) =>
        (MaxAttempts is not { } max || attempts < max) && (MaxRetryTime is not { } limit || elapsed < limit);

    /// <summary>What the limit is, for messages: "5 attempts", "2 minutes", "no limit".</summary>
    public string DescribeLimit() => (MaxAttempts, MaxRetryTime) switch
    {
        (null, null) => "no limit",
        ({ } a, null) => $"{a} attempt(s)",
        (null, { } t) => $"{t.TotalSeconds:0.###} s of retrying",
        ({ } a, { } t) => $"{a} attempt(s) or {t.TotalSeconds:0.###} s of retrying",
    };

    public static bool IsRetryableStatus(int statusCode) => statusCode is 404 or 408 or 409 or 429 or (>= 500 and <= 599);

    public static bool IsSuccessStatus(int statusCode) => statusCode is >= 200 and <= 299;

    /// <summary>The wait before retry number <paramref name="retry"/> (1 for the first retry).</summary>
    public TimeSpan DelayBeforeRetry(int retry, TimeSpan? retryAfter = null)
    {
        // Unlike a reconnect, a delivery retry never waits past MaxDelay: jitter above it is cut off.
        var jittered = new Backoff(InitialDelay, MaxDelay, Jitter).Delay(retry);
        var delay = jittered < MaxDelay ? jittered : MaxDelay;
        if (retryAfter is { } asked && asked > delay)
        {
            delay = asked < MaxDelay ? asked : MaxDelay;
        }
        return delay;
    }
}
