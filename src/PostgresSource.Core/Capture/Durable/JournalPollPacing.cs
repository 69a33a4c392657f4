namespace PostgresSource.Core.Capture.Durable;

/// <summary>
/// When the Durable reader reads the journal next. Writers send no NOTIFY (it would serialise their commits), so
/// the reader polls: every <see cref="Shortest"/> while reads find rows and for <see cref="QuietReadsAtShortest"/>
/// empty reads after that (rows written one by one come a few milliseconds apart), then twice as long after each
/// further empty read, up to <see cref="Longest"/>. A change after a pause waits at most <see cref="Longest"/>, and
/// an idle source costs one small prepared read per <see cref="Longest"/>.
/// </summary>
internal sealed class JournalPollPacing(TimeSpan longest)
{
    public static readonly TimeSpan Shortest = TimeSpan.FromMilliseconds(1);

    /// <summary>Empty reads in a row still made at the shortest wait before backing off (about 16–30 ms).</summary>
    public const int QuietReadsAtShortest = 16;

    private int _emptyReads;

    public TimeSpan Longest { get; } = longest < Shortest ? Shortest : longest;

    private Backoff? _doubling;

    // The one backoff, without jitter: one reader per journal, so nothing to spread out.
    private Backoff Doubling => _doubling ??= new(Shortest, Longest, jitter: 0);

    /// <summary>The wait before the next read, given whether the read just made found rows.</summary>
    public TimeSpan After(bool foundRows)
    {
        if (foundRows)
        {
            _emptyReads = 0;
            return Shortest;
        }
        if (++_emptyReads <= QuietReadsAtShortest)
        {
            return Shortest;
        }
        // The first empty read past the quiet ones waits twice the shortest, each further one twice the one before.
        return Doubling.Delay(_emptyReads - QuietReadsAtShortest + 1);
    }
}
