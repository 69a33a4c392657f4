using PostgresSource.Core.Diagnostics;

namespace PostgresSource.Core.Tests;

public sealed class OperationTraceTests
{
    [Theory]
    [InlineData("Host=h;Password=s3cret;Database=d", "Host=h;Password=********;Database=d")]
    [InlineData("host=h password='a b;c' dbname=d", "host=h password=******** dbname=d")]
    [InlineData("PWD = x1", "PWD = ********")]
    [InlineData("postgres://app:s3cret@db:5432/shop", "postgres://app:********@db:5432/shop")]
    [InlineData("SELECT 1", "SELECT 1")]
    public void MasksPasswords(string text, string masked) => Assert.Equal(masked, OperationTrace.Mask(text));

    [Fact]
    public async Task ReportsOnlyInsideAScopeAndFlowsIntoTasks()
    {
        var seen = new System.Collections.Concurrent.ConcurrentQueue<string>();
        OperationTrace.Write("before");
        using (OperationTrace.Begin(seen.Enqueue))
        {
            Assert.True(OperationTrace.Enabled);
            await Task.Run(() => OperationTrace.Write("inside Password=x"));
        }
        OperationTrace.Write("after");
        Assert.False(OperationTrace.Enabled);
        Assert.Equal(["inside Password=********"], seen);
    }
}
