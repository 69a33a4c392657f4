namespace PostgresSource.Core.Capture.Durable;

/// <summary>
/// When the Durable reader reads the journal next. Writers send no NOTIFY (it would serialise their commits), so
/// the reader polls: again after <see cref="Shortest"/> while reads find rows, then twice as long after each
/// empty read, up to <see cref="Longest"/> while the journal stays empty. A change after a pause therefore waits
/// at most <see cref="Longest"/>, and an idle source costs one small prepared read per <see cref="Longest"/>.
/// </summary>
internal sealed class JournalPollPacing(TimeSpan longest)
{
    public static readonly TimeSpan Shortest = TimeSpan.FromMilliseconds(1);

    private TimeSpan _next = Shortest;

    public TimeSpan Longest { get; } = longest < Shortest ? Shortest : longest;

    /// <summary>The wait before the next read, given whether the read just made found rows.</summary>
    public TimeSpan After(bool foundRows)
    {
        if (foundRows)
        {
            _next = Shortest;
            return Shortest;
        }
        var wait = _next;
        _next = TimeSpan.FromTicks(Math.Min(_next.Ticks * 2, Longest.Ticks));
        return wait;
    }
}
