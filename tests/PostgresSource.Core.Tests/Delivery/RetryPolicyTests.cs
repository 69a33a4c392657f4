using PostgresSource.Core.Delivery;

namespace PostgresSource.Core.Tests.Delivery;

public sealed class RetryPolicyTests
{
    [Theory]
    [InlineData(404, true)]
    [InlineData(408, true)]
    [InlineData(409, true)]
    [InlineData(429, true)]
    [InlineData(500, true)]
    [InlineData(503, true)]
    [InlineData(599, true)]
    [InlineData(400, false)]
    [InlineData(401, false)]
    [InlineData(403, false)]
    [InlineData(410, false)]
    [InlineData(413, false)]
    [InlineData(302, false)]
    public void RetriesKnativesClassesOnly(int status, bool retryable) => Assert.Equal(retryable, RetryPolicy.IsRetryableStatus(status));

    [Fact]
    public void BackoffDoublesWithinJitterAndIsCapped()
    {
        var policy = new RetryPolicy { InitialDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1), Jitter = 0.2 }.Validate();
        for (var i = 0; i < 200; i++)
        {
            Assert.InRange(policy.DelayBeforeRetry(1).TotalMilliseconds, 80, 120);
            Assert.InRange(policy.DelayBeforeRetry(2).TotalMilliseconds, 160, 240);
            Assert.InRange(policy.DelayBeforeRetry(3).TotalMilliseconds, 320, 480);
            Assert.InRange(policy.DelayBeforeRetry(30).TotalMilliseconds, 800, 1000);
        }
        var delays = Enumerable.Range(0, 50).Select(_ => policy.DelayBeforeRetry(1)).Distinct().Count();
        Assert.True(delays > 1, "jitter varies the delay");
    }

    [Fact]
    public void RetryAfterIsHonouredUpToTheMaximum()
    {
        var policy = new RetryPolicy { InitialDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromSeconds(2) };
        Assert.Equal(TimeSpan.FromSeconds(1), policy.DelayBeforeRetry(1, TimeSpan.FromSeconds(1)));
        Assert.Equal(TimeSpan.FromSeconds(2), policy.DelayBeforeRetry(1, TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public void InvalidPoliciesAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RetryPolicy { MaxAttempts = 0 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new RetryPolicy { InitialDelay = TimeSpan.FromSeconds(5), MaxDelay = TimeSpan.FromSeconds(1) }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new RetryPolicy { Jitter = 2 }.Validate());
    }
}
