namespace PostgresSource.Kubernetes.Controller;

/// <summary>When a source is looked at next: at the regular resync, after a set time, or after a growing backoff.</summary>
internal sealed record ReconcileResult(TimeSpan? After, bool Backoff)
{
    public static ReconcileResult Resync { get; } = new(null, false);

    public static ReconcileResult Retry { get; } = new(null, true);

    public static ReconcileResult In(TimeSpan delay) => new(delay, false);
}
