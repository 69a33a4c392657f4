using PostgresSource.Core.Listening;

namespace PostgresSource.Core.Tests.Listener;

public sealed class QueueCreditsTests
{
    [Fact]
    public async Task CreditsGoBackInGroupsAndAllAtOnceWhenNothingMoreIsQueued()
    {
        using var credits = new QueueCredits(capacity: 8); // groups of 2
        for (var i = 0; i < 8; i++)
        {
            Assert.True(credits.TakeAsync(CancellationToken.None).IsCompletedSuccessfully);
        }
        var waiting = credits.TakeAsync(CancellationToken.None);
        Assert.False(waiting.IsCompleted);

        credits.Return(moreQueued: true); // one held: the producer is not woken for it
        Assert.False(waiting.IsCompleted);
        credits.Return(moreQueued: true); // a group of two goes back
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(credits.TakeAsync(CancellationToken.None).IsCompletedSuccessfully);

        var next = credits.TakeAsync(CancellationToken.None);
        Assert.False(next.IsCompleted);
        credits.Return(moreQueued: false); // the finisher is idle: whatever it holds goes back now
        await next.WaitAsync(TimeSpan.FromSeconds(5));
    }
}
