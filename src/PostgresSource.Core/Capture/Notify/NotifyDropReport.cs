namespace PostgresSource.Core.Capture.Notify;

/// <summary>What Notify mode dropped since its last report: how many, and on which tables and operations.</summary>
/// <param name="Count">Changes dropped since the last report (this one included).</param>
/// <param name="Total">Changes dropped since the capture was made.</param>
/// <param name="Targets">"schema.table OPERATION" and how many of each, most first.</param>
/// <param name="Since">Time since the last report; null for the first drop of an episode (none waiting, no report within the interval).</param>
internal sealed record DroppedChanges(long Count, long Total, IReadOnlyList<(string Target, long Count)> Targets, TimeSpan? Since);

/// <summary>
/// Counts Notify mode's dropped changes and decides when to report them, so a flood of drops makes a handful of
/// notices, not one per change: the first drop after a quiet spell is reported at once; while drops go on, at most
/// one summary per <see cref="Interval"/>, with the count and the tables and operations affected. Thread-safe;
/// counting never waits (it runs in Npgsql's notification callback).
/// </summary>
internal sealed class NotifyDropReport(TimeSpan interval, TimeProvider time)
{
    private readonly object _gate = new();
    private readonly Dictionary<(string Schema, string Table, ChangeOperation Operation), long> _pendingBy = [];
    private long _total;
    private long _pending;
    private long? _lastReport;

    public TimeSpan Interval { get; } = interval;

    /// <summary>Changes dropped since the capture was made.</summary>
    public long Total => Interlocked.Read(ref _total);

    /// <summary>Counts one dropped change; returns the report to raise now, or null when it waits for the next summary.</summary>
    public DroppedChanges? Count(CapturedChange change) => Count(change.Schema, change.Table, change.Operation);

    /// <inheritdoc cref="Count(CapturedChange)"/>
    public DroppedChanges? Count(string schema, string table, ChangeOperation operation)
    {
        lock (_gate)
        {
            // A drop with none waiting to be reported, and no report within the interval, starts a new episode.
            var first = _pending == 0;
            _total++;
            _pending++;
            var key = (schema, table, operation);
            _pendingBy[key] = _pendingBy.GetValueOrDefault(key) + 1;
            return Due() ? Take(first) : null;
        }
    }

    /// <summary>The summary of drops not reported yet, once <see cref="Interval"/> has passed since the last report; else null.</summary>
    public DroppedChanges? TakeDue()
    {
        lock (_gate)
        {
            return _pending > 0 && Due() ? Take(first: false) : null;
        }
    }

    /// <summary>The summary of drops not reported yet, whatever the interval (the capture is stopping); null if none.</summary>
    public DroppedChanges? TakePending()
    {
        lock (_gate)
        {
            return _pending > 0 ? Take(first: false) : null;
        }
    }

    private bool Due() => _lastReport is not { } last || time.GetElapsedTime(last) >= Interval;

    private DroppedChanges Take(bool first)
    {
        var now = time.GetTimestamp();
        TimeSpan? since = !first && _lastReport is { } last ? time.GetElapsedTime(last, now) : null;
        var targets = _pendingBy
            .OrderByDescending(p => p.Value)
            .ThenBy(p => p.Key.Schema, StringComparer.Ordinal)
            .ThenBy(p => p.Key.Table, StringComparer.Ordinal)
            .ThenBy(p => p.Key.Operation)
            .Select(p => ($"{p.Key.Schema}.{p.Key.Table} {CapturedChange.ActionName(p.Key.Operation)}", p.Value))
            .ToList();
        var report = new DroppedChanges(_pending, _total, targets, since);
        _pending = 0;
        _pendingBy.Clear();
        _lastReport = now;
        return report;
    }
}
