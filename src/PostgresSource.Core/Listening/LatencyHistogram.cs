namespace PostgresSource.Core.Listening;

/// <summary>A cumulative histogram of durations in seconds, with Prometheus' usual buckets. Thread-safe.</summary>
internal sealed class LatencyHistogram
{
    public static readonly IReadOnlyList<double> DefaultBounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly double[] _bounds;
    private readonly long[] _counts;
    private long _count;
    private long _sumMicroseconds;

    public LatencyHistogram(IReadOnlyList<double>? bounds = null)
    {
        _bounds = (bounds ?? DefaultBounds).Order().ToArray();
        _counts = new long[_bounds.Length];
    }

    public IReadOnlyList<double> Bounds => _bounds;

    public void Observe(TimeSpan duration)
    {
        var seconds = Math.Max(duration.TotalSeconds, 0);
        for (var i = 0; i < _bounds.Length; i++)
        {
            if (seconds <= _bounds[i])
            {
                Interlocked.Increment(ref _counts[i]);
            }
        }
        Interlocked.Add(ref _sumMicroseconds, (long)(seconds * 1_000_000));
        Interlocked.Increment(ref _count);
    }

    /// <summary>Cumulative counts per upper bound (le), the total count (le="+Inf") and the sum in seconds.</summary>
    public (IReadOnlyList<(double UpperBound, long Count)> Buckets, long Count, double SumSeconds) Snapshot()
    {
        var buckets = _bounds.Select((bound, i) => (bound, Interlocked.Read(ref _counts[i]))).ToList();
        return (buckets, Interlocked.Read(ref _count), Interlocked.Read(ref _sumMicroseconds) / 1_000_000.0);
    }
}
