using System.Diagnostics;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Capture.Logical;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.TestSupport;

namespace PostgresSource.Benchmarks;

/// <summary>
/// P1 for Logical without the listener: a LogicalCapture read and acknowledged change by change (no CloudEvent,
/// no HTTP) while it streams one transaction of N inserted rows. What the pgoutput path itself costs per change:
/// bytes allocated in the process and CPU, and its rate from the first change to the last.
/// </summary>
internal static class LogicalCaptureCost
{
    public sealed record Result(double ChangesPerSecond, double BytesPerChange, double CpuMicrosPerChange);

    public static async Task<Result> MeasureAsync(string connectionString, SourceDefinition source, int count)
    {
        var table = source.Tables[0].ToString();
        await using var capture = new LogicalCapture(source, ConnectionSettings.Parse(connectionString));
        using var stop = new CancellationTokenSource();
        var changes = capture.ReadAllAsync(stop.Token).GetAsyncEnumerator(stop.Token);
        try
        {
            var first = changes.MoveNextAsync().AsTask();
            while (!capture.IsReady && !first.IsCompleted)
            {
                await Task.Delay(5);
            }
            await TestSql.ExecuteAsync(connectionString, $"INSERT INTO {table} (customer, item, qty) SELECT g, 'widget-' || g, g % 7 + 1 FROM generate_series(1, {count}) g");
            if (!await first)
            {
                throw new InvalidOperationException("The capture ended before the first change.");
            }
            // From the first change on: the server's decoding of the transaction before it is not the capture's cost.
            var allocated = GC.GetTotalAllocatedBytes(precise: true);
            var cpu = ProcessCpu();
            var start = Stopwatch.GetTimestamp();
            await capture.AcknowledgeAsync(changes.Current, CancellationToken.None);
            for (var i = 1; i < count; i++)
            {
                if (!await changes.MoveNextAsync())
                {
                    throw new InvalidOperationException($"The capture ended after {i} of {count} changes.");
                }
                await capture.AcknowledgeAsync(changes.Current, CancellationToken.None);
            }
            var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            return new Result((count - 1) / seconds, (GC.GetTotalAllocatedBytes(precise: true) - allocated) / (double)count,
                (ProcessCpu() - cpu).TotalMicroseconds / count);
        }
        finally
        {
            stop.Cancel();
            try
            {
                await changes.DisposeAsync();
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private static TimeSpan ProcessCpu()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }
}
