using PostgresSource.Core.Capture.Durable;
using PostgresSource.Core.Capture.Snapshots;

namespace PostgresSource.Core.Tests.Durable;

public sealed class JournalWindowTests
{
    [Fact]
    public void LowWaterMarkWaitsUntilEveryTransactionThatCouldHoldASmallerIdHasEnded()
    {
        var window = new JournalWindow();
        // Transaction 100 holds id 1 and is still open; ids 2 and 3 are visible. The read's own id is 105.
        window.Observe(PgSnapshot.Parse("100:104:100"), 105, [2, 3], truncated: false);
        Assert.Equal(0, window.Low);

        window.Observe(PgSnapshot.Parse("100:110:100"), 111, [], truncated: false);
        Assert.Equal(0, window.Low); // 100 still running: id 1 may still appear

        window.Observe(PgSnapshot.Parse("106:112:"), 113, [1], truncated: false);
        Assert.Equal(4, window.Low); // every transaction below 105 ended and the read saw everything up to 3
    }

    [Fact]
    public void ARunningTransactionAtOrAboveXmaxIsNotMistakenForAnEndedOne()
    {
        // xmax is one past the latest completed transaction, so a running transaction 100 can be outside xip
        // with xmin = xmax = 100. Its row (id 1) is not visible yet; the read's own id (101) is the bound.
        var window = new JournalWindow();
        window.Observe(PgSnapshot.Parse("100:100:"), 101, [2], truncated: false);
        window.Observe(PgSnapshot.Parse("100:100:"), 102, [], truncated: false);
        Assert.Equal(0, window.Low);
    }

    [Fact]
    public void ATruncatedReadOnlyPromisesWhatItSaw()
    {
        var window = new JournalWindow();
        window.Observe(PgSnapshot.Parse("50:50:"), 60, Enumerable.Range(1, 500).Select(i => (long)i).ToList(), truncated: true);
        // A later truncated read that covers only up to 300 cannot release the promise for 500.
        window.Observe(PgSnapshot.Parse("70:70:"), 71, Enumerable.Range(1, 300).Select(i => (long)i).ToList(), truncated: true);
        Assert.Equal(0, window.Low);
        window.Observe(PgSnapshot.Parse("72:72:"), 73, [], truncated: false);
        Assert.Equal(501, window.Low);
    }

    [Fact]
    public void AnIdleReaderNeedsNoBoundOnceCaughtUp()
    {
        var window = new JournalWindow();
        Assert.True(window.NeedsBound);
        window.Observe(PgSnapshot.Parse("10:10:"), 11, [1, 2], truncated: false);
        window.Observe(PgSnapshot.Parse("12:12:"), 13, [], truncated: false);
        Assert.Equal(3, window.Low);
        Assert.False(window.NeedsBound);
        window.Observe(PgSnapshot.Parse("14:14:"), null, [3], truncated: false); // rows came without a bound
        Assert.True(window.NeedsBound);
        Assert.Equal(3, window.Low);
        window.Observe(PgSnapshot.Parse("15:15:"), 16, [], truncated: false);
        window.Observe(PgSnapshot.Parse("17:17:"), 18, [], truncated: false);
        Assert.Equal(4, window.Low);
    }
}

public sealed class PgSnapshotTests
{
    [Fact]
    public void VisibilityFollowsXminXmaxAndInProgressList()
    {
        var snapshot = PgSnapshot.Parse("100:110:102,105");
        Assert.True(snapshot.IsVisible(99));
        Assert.True(snapshot.IsVisible(101));
        Assert.False(snapshot.IsVisible(102));
        Assert.False(snapshot.IsVisible(105));
        Assert.True(snapshot.IsVisible(109));
        Assert.False(snapshot.IsVisible(110));
    }

    [Fact]
    public void WidensThirtyTwoBitIdsToTheNearestEpoch()
    {
        var snapshot = PgSnapshot.Parse($"{(3UL << 32) + 10}:{(3UL << 32) + 20}:");
        Assert.Equal((3UL << 32) + 15, snapshot.Widen(15));
        Assert.Equal((2UL << 32) + 0xFFFFFFF0UL, snapshot.Widen(0xFFFFFFF0)); // just before the wraparound
    }
}
