using System.Diagnostics;
using System.Text.Json;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.Benchmarks;

/// <summary>
/// P2 without delivery: the paced writer's rows read by the capture alone (acknowledged as they come, no CloudEvent,
/// no HTTP), from the INSERT's send to the moment the capture hands the change over. Splits the listener's P2 into
/// the capture's part and the delivery's part.
/// </summary>
internal static class CaptureLatency
{
    public static async Task<BareStreamLatency.Percentiles> MeasureAsync(string connectionString, SourceDefinition source, int rate, int warmup, int total)
    {
        var table = source.Tables[0].ToString();
        var handedOver = new Dictionary<long, long>(warmup + total);
        await using var capture = ChangeCaptureFactory.Create(source, ConnectionSettings.Parse(connectionString));
        using var stop = new CancellationTokenSource();
        var reader = Task.Run(async () =>
        {
            await foreach (var change in capture.ReadAllAsync(stop.Token))
            {
                var now = Stopwatch.GetTimestamp();
                using var payload = JsonDocument.Parse(change.PayloadJson);
                handedOver[payload.RootElement.GetProperty("data").GetProperty("id").GetInt64()] = now;
                await capture.AcknowledgeAsync(change, stop.Token);
                if (handedOver.Count == warmup + total)
                {
                    return;
                }
            }
        });
        while (!capture.IsReady)
        {
            if (reader.IsCompleted) await reader;
            await Task.Delay(5);
        }
        await PacedWriter.RunAsync(connectionString, table, rate, warmup);
        var (sent, _) = await PacedWriter.RunAsync(connectionString, table, rate, total);
        if (await Task.WhenAny(reader, Task.Delay(TimeSpan.FromMinutes(1))) != reader)
        {
            stop.Cancel();
            throw new TimeoutException($"P2 capture alone: only {handedOver.Count} of {warmup + total} changes arrived");
        }
        await reader;
        return BareStreamLatency.Percentiles.Of(sent.Select(p => Stopwatch.GetElapsedTime(p.Value, handedOver[p.Key]).TotalMilliseconds));
    }
}
