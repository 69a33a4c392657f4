using PostgresSource.Core.Capture.Durable;

namespace PostgresSource.Core.Tests.Durable;

public sealed class JournalPollPacingTests
{
    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);

    [Fact]
    public void ReadsAtTheShortestWaitWhileRowsComeThenBacksOffToTheLongestWait()
    {
        var pacing = new JournalPollPacing(TimeSpan.FromMilliseconds(10));

        Assert.Equal(Ms, pacing.After(foundRows: true));
        var quiet = Enumerable.Range(0, JournalPollPacing.QuietReadsAtShortest + 4).Select(_ => pacing.After(foundRows: false)).ToList();
        Assert.All(quiet.Take(JournalPollPacing.QuietReadsAtShortest), wait => Assert.Equal(Ms, wait));
        Assert.Equal(new[] { 2, 4, 8, 10 }.Select(ms => ms * Ms), quiet.Skip(JournalPollPacing.QuietReadsAtShortest));
        Assert.Equal(10 * Ms, pacing.After(foundRows: false));

        // Rows again: straight back to the shortest wait, and the count of quiet reads starts over.
        Assert.Equal(Ms, pacing.After(foundRows: true));
        Assert.All(Enumerable.Range(0, JournalPollPacing.QuietReadsAtShortest).Select(_ => pacing.After(foundRows: false)), wait => Assert.Equal(Ms, wait));
        Assert.Equal(2 * Ms, pacing.After(foundRows: false));
    }

    [Fact]
    public void ALongestWaitBelowTheShortestIsRaisedToIt()
    {
        Assert.Equal(JournalPollPacing.Shortest, new JournalPollPacing(TimeSpan.Zero).Longest);
    }
}
