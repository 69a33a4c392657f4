using PostgresSource.Benchmarks;

namespace PostgresSource.Core.Tests;

/// <summary>
/// Keeps the benchmark harness (tests/PostgresSource.Benchmarks, run by hand: see docs/benchmarks.md)
/// from rotting: a --quick run of P1 and P2 in-process, checking only that it completes and prints the table.
/// P3 (pgbench) and P4 (a child process) run in the full harness only.
/// </summary>
public sealed class BenchmarkSmokeTests
{
    [Fact]
    public async Task QuickRunPrintsTheResultsTable()
    {
        var output = new StringWriter();
        var run = BenchmarkRunner.RunAsync(["--quick", "--only", "P1,P2"], output);
        // A guard against a hang, not a speed check: a loaded machine takes several times the ~10 s of a quiet one.
        var exit = await run.WaitAsync(TimeSpan.FromMinutes(5));
        Assert.Equal(0, exit);
        var text = output.ToString();
        Assert.Contains("| figure | mode | measured | result | target | met | detail |", text);
        Assert.Contains("| P1 allocations | all |", text);
        Assert.Contains("| P1 throughput, commit order (1 in flight) | Notify |", text);
        Assert.Contains("| P1 throughput, key order, 4 in flight | Notify |", text);
        Assert.Contains("| P1 throughput, unordered, 4 in flight | Notify |", text);
        // The reference is taken at the listener's own in-flight count.
        Assert.Contains("reference", text);
        Assert.Matches(@"\| P1 throughput, key order, 4 in flight \| Notify \| \d+ ev/s vs reference \d+ ev/s at 4 in flight", text);
        Assert.Contains("| P2 latency | Notify |", text);
        // Every mode the factory supports is measured (Durable since it was merged).
        foreach (var mode in Enum.GetValues<PostgresSource.Core.Sources.CaptureMode>().Where(PostgresSource.Core.Capture.ChangeCaptureFactory.Supports))
        {
            Assert.Contains($"| P1 throughput, commit order (1 in flight) | {mode} |", text);
            Assert.Contains($"| P2 latency | {mode} |", text);
        }
    }
}
