using PostgresSource.Core.Capture.Durable;

namespace PostgresSource.Core.Tests.Durable;

public sealed class JournalPollPacingTests
{
    [Fact]
    public void ReadsAgainAtOnceWhileRowsComeThenBacksOffToTheLongestWait()
    {
        var pacing = new JournalPollPacing(TimeSpan.FromMilliseconds(10));

        Assert.Equal(TimeSpan.FromMilliseconds(1), pacing.After(foundRows: true));
        Assert.Equal(
            new[] { 1, 2, 4, 8, 10, 10 }.Select(ms => TimeSpan.FromMilliseconds(ms)),
            Enumerable.Range(0, 6).Select(_ => pacing.After(foundRows: false)));

        // Rows again: straight back to the shortest wait, and the backing off starts over.
        Assert.Equal(TimeSpan.FromMilliseconds(1), pacing.After(foundRows: true));
        Assert.Equal(TimeSpan.FromMilliseconds(1), pacing.After(foundRows: false));
        Assert.Equal(TimeSpan.FromMilliseconds(2), pacing.After(foundRows: false));
    }

    [Fact]
    public void ALongestWaitBelowTheShortestIsRaisedToIt()
    {
        Assert.Equal(JournalPollPacing.Shortest, new JournalPollPacing(TimeSpan.Zero).Longest);
    }
}
