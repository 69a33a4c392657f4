using PostgresSource.Core.Capture;

namespace PostgresSource.Core.Tests.Reliability;

/// <summary>The one backoff that reconnects, delivery retries and the hosts' start-up loops share.</summary>
public sealed class BackoffTests
{
    [Fact]
    public void WithoutJitterItDoublesFromTheInitialDelayUpToTheMaximum()
    {
        // The adapter's start-up loop: 0.5 s doubling to 30 s, no jitter.
        var backoff = new Backoff(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30), jitter: 0);
        var waits = Enumerable.Range(0, 9).Select(_ => backoff.Next().TotalMilliseconds).ToArray();
        Assert.Equal(new double[] { 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000 }, waits);
        Assert.Equal(9, backoff.Attempts);
        backoff.Reset();
        Assert.Equal(0, backoff.Attempts);
        Assert.Equal(500, backoff.Next().TotalMilliseconds);
    }

    [Fact]
    public void JitterVariesEachWaitWithinItsFractionEitherWay()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1));
        Assert.Equal(Backoff.DefaultJitter, backoff.Jitter);
        for (var i = 0; i < 200; i++)
        {
            Assert.InRange(backoff.Delay(1).TotalMilliseconds, 80, 120);
            Assert.InRange(backoff.Delay(3).TotalMilliseconds, 320, 480);
            // Capped first, then varied: a reconnect at the cap waits up to a fifth longer.
            Assert.InRange(backoff.Delay(40).TotalMilliseconds, 800, 1200);
        }
        Assert.True(Enumerable.Range(0, 50).Select(_ => backoff.Delay(1)).Distinct().Count() > 1);
    }

    [Fact]
    public void AZeroDelayNeverSpinsARetryLoop()
    {
        var backoff = new Backoff(TimeSpan.Zero, TimeSpan.Zero);
        Assert.Equal(TimeSpan.Zero, backoff.Delay(1));
        Assert.Equal(TimeSpan.FromMilliseconds(1), backoff.Next());
    }

    [Fact]
    public void CaptureOptionsMakeTheReconnectBackoffOfTheirDelays()
    {
        var options = new CaptureOptions { InitialReconnectDelay = TimeSpan.FromMilliseconds(50), MaxReconnectDelay = TimeSpan.FromSeconds(2) };
        var backoff = options.ReconnectBackoff();
        Assert.Equal(options.InitialReconnectDelay, backoff.Initial);
        Assert.Equal(options.MaxReconnectDelay, backoff.Max);
        Assert.NotSame(backoff, options.ReconnectBackoff());
    }
}
