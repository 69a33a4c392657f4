using System.Diagnostics;
using System.Net.Http.Headers;
using Npgsql;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Database;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Listening;
using PostgresSource.Core.Sources;
using PostgresSource.TestSupport;

namespace PostgresSource.Benchmarks;

/// <summary>P1 throughput, P2 latency and P4 memory, for one capture mode, against the local sink.</summary>
internal sealed class EndToEndBenchmarks(BenchmarkSettings settings, string connectionString, BenchSink sink)
{
    public sealed record Throughput(DeliveryOrder Order, int InFlight, double ListenerRate, double ReferenceRate, IReadOnlyList<double> ListenerRuns, IReadOnlyList<double> ReferenceRuns, double AllocatedPerEvent)
    {
        public double Ratio => ListenerRate / ReferenceRate;

        /// <summary>CPU of this process (listener and sink, or reference client and sink) per event, medians: steadier than rates on a shared box.</summary>
        public double ListenerCpuMicros { get; init; }
        public double ReferenceCpuMicros { get; init; }
    }

    public sealed record Latency(double P50, double P95, double P99, double Max, int Samples, double AchievedRate);

    private async Task<SourceDefinition> InstallAsync(CaptureMode mode, string figure)
    {
        var table = $"bench_{figure}_{mode.ToString().ToLowerInvariant()}";
        await TestSql.ExecuteAsync(connectionString, $"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id bigserial PRIMARY KEY, customer int NOT NULL, item text NOT NULL, qty int NOT NULL, created timestamptz NOT NULL DEFAULT now())");
        var source = new SourceDefinition { Name = $"bench-{figure}-{mode.ToString().ToLowerInvariant()}", Tables = [TableName.Parse(table)], Mode = mode }.Validate();
        await using var install = await SourceSchema.PlanInstallAsync(source, ConnectionSettings.Parse(connectionString));
        await install.ApplyAsync();
        return source;
    }

    private async Task UninstallAsync(SourceDefinition source)
    {
        await using var uninstall = await SourceSchema.PlanUninstallAsync(source, ConnectionSettings.Parse(connectionString));
        await uninstall.ApplyAsync();
    }

    private (SourceListener Listener, Task Run, CancellationTokenSource Stop) StartListener(SourceDefinition source, int inFlight = 1,
        DeliveryOrder order = DeliveryOrder.Commit)
    {
        var connection = ConnectionSettings.Parse(connectionString);
        var listener = new SourceListener(source, ChangeCaptureFactory.Create(source, connection),
            new EventDeliverer(new HttpEventSink(sink.Uri)), new ListenerOptions
            {
                MaxConcurrentDeliveries = inFlight,
                Ordering = order,
                RowKeys = order == DeliveryOrder.Key ? RowKeyIndex.LoadAsync(connection, source, CancellationToken.None).GetAwaiter().GetResult() : null,
            });
        var stop = new CancellationTokenSource();
        return (listener, listener.RunAsync(stop.Token), stop);
    }

    private static async Task WaitReadyAsync(SourceListener listener, Task run)
    {
        while (!listener.IsReady)
        {
            if (run.IsCompleted) await run;
            await Task.Delay(5);
        }
    }

    private static async Task StopAsync((SourceListener Listener, Task Run, CancellationTokenSource Stop) l)
    {
        l.Stop.Cancel();
        try { await l.Run; } catch (OperationCanceledException) { }
        await l.Listener.DisposeAsync();
        l.Stop.Dispose();
    }

    /// <summary>
    /// P1. The listener runs while one transaction inserts N rows, so all N changes arrive at commit and the
    /// listener has a full backlog; the rate is N over the time from the first to the last acknowledged event.
    /// Variants: commit order with 1 in flight, and key and unordered delivery with each larger in-flight count.
    /// Reference, like with like: one HttpClient posting N prebuilt binary-mode CloudEvents to the same sink
    /// with the same number of requests in flight (1: sequentially). Rounds alternate reference and listener.
    /// </summary>
    public async Task<IReadOnlyList<Throughput>> ThroughputAsync(CaptureMode mode)
    {
        var source = await InstallAsync(mode, "p1");
        var table = source.Tables[0].ToString();
        var variants = settings.InFlight
            .SelectMany(n => n == 1 ? new[] { (DeliveryOrder.Commit, 1) } : new[] { (DeliveryOrder.Key, n), (DeliveryOrder.Unordered, n) })
            .ToList();
        var listenerRuns = variants.ToDictionary(v => v, _ => new List<double>());
        var allocations = variants.ToDictionary(v => v, _ => new List<double>());
        var listenerCpu = variants.ToDictionary(v => v, _ => new List<double>());
        var referenceRuns = settings.InFlight.ToDictionary(n => n, _ => new List<double>());
        var referenceCpu = settings.InFlight.ToDictionary(n => n, _ => new List<double>());
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue });
        var body = """{"table":"bench_p1","schema":"public","action":"INSERT","data":{"id":1,"customer":42,"item":"widget-42","qty":1,"created":"2026-11-23T22:00:00+00:00"}}"""u8.ToArray();

        async Task PostRangeAsync(int first, int count)
        {
            for (var i = first; i < first + count; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, sink.Uri) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                request.Headers.Add("ce-specversion", "1.0");
                request.Headers.Add("ce-id", i.ToString());
                request.Headers.Add("ce-source", "bench/reference");
                request.Headers.Add("ce-type", "dev.vaikas.postgres");
                request.Headers.Add("ce-subject", "public.bench_p1");
                using var response = await client.SendAsync(request);
                response.EnsureSuccessStatusCode();
            }
        }

        try
        {
            for (var round = -1; round < settings.Rounds; round++) // round -1 warms up JIT and connections, not counted
            {
                foreach (var inFlight in settings.InFlight)
                {
                    // Reference at this many requests in flight
                    sink.Reset();
                    var start = Stopwatch.GetTimestamp();
                    var cpuBefore = ProcessCpu();
                    var share = settings.P1Events / inFlight;
                    await Task.WhenAll(Enumerable.Range(0, inFlight).Select(w =>
                        Task.Run(() => PostRangeAsync(w * share, w == inFlight - 1 ? settings.P1Events - w * share : share))));
                    var referenceRate = settings.P1Events / Stopwatch.GetElapsedTime(start).TotalSeconds;
                    if (round >= 0)
                    {
                        referenceRuns[inFlight].Add(referenceRate);
                        referenceCpu[inFlight].Add((ProcessCpu() - cpuBefore).TotalMicroseconds / settings.P1Events);
                    }

                    // The listener's variants at the same in-flight count, interleaved with the reference
                    foreach (var variant in variants.Where(v => v.Item2 == inFlight))
                    {
                        sink.Reset();
                        var l = StartListener(source, inFlight, variant.Item1);
                        await WaitReadyAsync(l.Listener, l.Run);
                        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
                        var listenerCpuBefore = ProcessCpu();
                        await TestSql.ExecuteAsync(connectionString, $"INSERT INTO {table} (customer, item, qty) SELECT g, 'widget-' || g, g % 7 + 1 FROM generate_series(1, {settings.P1Events}) g");
                        if (!await sink.WaitForAsync(settings.P1Events, TimeSpan.FromMinutes(5)))
                        {
                            throw new TimeoutException($"P1 {mode} {variant.Item1} in-flight {inFlight}: only {sink.Count} of {settings.P1Events} events arrived");
                        }
                        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
                        var cpu = (ProcessCpu() - listenerCpuBefore).TotalMicroseconds / settings.P1Events;
                        var seconds = Stopwatch.GetElapsedTime(sink.FirstTimestamp, sink.LastTimestamp).TotalSeconds;
                        if (round >= 0)
                        {
                            listenerRuns[variant].Add((settings.P1Events - 1) / seconds);
                            allocations[variant].Add(allocated / (double)settings.P1Events);
                            listenerCpu[variant].Add(cpu);
                        }
                        await StopAsync(l);
                        await TestSql.ExecuteAsync(connectionString, $"TRUNCATE {table}");
                    }
                }
            }
        }
        finally
        {
            await UninstallAsync(source);
        }
        return variants.Select(v => new Throughput(v.Item1, v.Item2, WriteOverheadBenchmark.Median(listenerRuns[v]), WriteOverheadBenchmark.Median(referenceRuns[v.Item2]),
            listenerRuns[v], referenceRuns[v.Item2], WriteOverheadBenchmark.Median(allocations[v]))
        {
            ListenerCpuMicros = WriteOverheadBenchmark.Median(listenerCpu[v]),
            ReferenceCpuMicros = WriteOverheadBenchmark.Median(referenceCpu[v.Item2]),
        }).ToList();
    }

    private static TimeSpan ProcessCpu()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    /// <summary>
    /// P2. A paced writer inserts one row per autocommit transaction at a steady rate; the latency of a row
    /// is from the moment the client sent its INSERT (an upper bound of commit time, so the figure is
    /// conservative by one round trip) to the sink's receipt, both on this process's monotonic clock.
    /// </summary>
    public async Task<Latency> LatencyAsync(CaptureMode mode)
    {
        var source = await InstallAsync(mode, "p2");
        var table = source.Tables[0].ToString();
        sink.Reset();
        var l = StartListener(source);
        Dictionary<long, long> sent;
        var total = settings.P2Rate * settings.P2Seconds;
        double achieved;
        try
        {
            await WaitReadyAsync(l.Listener, l.Run);
            var warmup = settings.P2Rate * settings.P2WarmupSeconds;
            await PacedWriter.RunAsync(connectionString, table, settings.P2Rate, warmup);
            if (!await sink.WaitForAsync(warmup, TimeSpan.FromMinutes(1)))
            {
                throw new TimeoutException($"P2 {mode} warm-up: only {sink.Count} of {warmup} events arrived");
            }
            sink.Reset();
            sink.RecordReceipts = true;
            (sent, achieved) = await PacedWriter.RunAsync(connectionString, table, settings.P2Rate, total);
            if (!await sink.WaitForAsync(total, TimeSpan.FromMinutes(1)))
            {
                throw new TimeoutException($"P2 {mode}: only {sink.Count} of {total} events arrived");
            }
        }
        finally
        {
            sink.RecordReceipts = false;
            await StopAsync(l);
            await UninstallAsync(source);
        }
        var latencies = sent.Where(p => sink.Receipts.ContainsKey(p.Key))
            .Select(p => Stopwatch.GetElapsedTime(p.Value, sink.Receipts[p.Key]).TotalMilliseconds).Order().ToArray();
        double Pct(double q) => latencies[Math.Min(latencies.Length - 1, (int)Math.Ceiling(q * latencies.Length) - 1)];
        return new Latency(Pct(0.50), Pct(0.95), Pct(0.99), latencies[^1], latencies.Length, achieved);
    }

    /// <summary>P1 for Logical without the listener: the capture alone, median of the rounds (see <see cref="LogicalCaptureCost"/>).</summary>
    public async Task<LogicalCaptureCost.Result> LogicalCaptureCostAsync()
    {
        var source = await InstallAsync(CaptureMode.Logical, "p1c");
        var table = source.Tables[0].ToString();
        var results = new List<LogicalCaptureCost.Result>();
        try
        {
            for (var round = -1; round < settings.Rounds; round++) // round -1 warms up, not counted
            {
                var result = await LogicalCaptureCost.MeasureAsync(connectionString, source, settings.P1Events);
                if (round >= 0) results.Add(result);
                await TestSql.ExecuteAsync(connectionString, $"TRUNCATE {table}");
            }
        }
        finally
        {
            await UninstallAsync(source);
        }
        return new LogicalCaptureCost.Result(WriteOverheadBenchmark.Median(results.Select(r => r.ChangesPerSecond).ToList()),
            WriteOverheadBenchmark.Median(results.Select(r => r.BytesPerChange).ToList()), WriteOverheadBenchmark.Median(results.Select(r => r.CpuMicrosPerChange).ToList()));
    }

    /// <summary>P2 without delivery: the capture alone reading the paced rows (see <see cref="CaptureLatency"/>).</summary>
    public async Task<BareStreamLatency.Percentiles> CaptureLatencyAsync(CaptureMode mode)
    {
        var source = await InstallAsync(mode, "p2c");
        try
        {
            return await CaptureLatency.MeasureAsync(connectionString, source, settings.P2Rate,
                settings.P2Rate * settings.P2WarmupSeconds, settings.P2Rate * settings.P2Seconds);
        }
        finally
        {
            await UninstallAsync(source);
        }
    }

    /// <summary>P2 for Logical without the listener: the same paced writer read by a bare pgoutput stream (see <see cref="BareStreamLatency"/>).</summary>
    public async Task<BareStreamLatency.Result> BareStreamLatencyAsync()
    {
        var source = await InstallAsync(CaptureMode.Logical, "p2b");
        try
        {
            return await BareStreamLatency.MeasureAsync(connectionString, source, settings.P2Rate, settings.P2Rate * settings.P2Seconds);
        }
        finally
        {
            await UninstallAsync(source);
        }
    }

    /// <summary>
    /// P4. The listener runs in its own process (like the adapter); the sink takes 1 ms per event, slower
    /// than the writer, which inserts P4Events rows in transactions of 1,000 as fast as it can. Peak RSS is
    /// the child's VmHWM after the writer finished and the listener has worked through part of the backlog.
    /// </summary>
    public async Task<(double PeakMb, double IdleMb, long Delivered, double Seconds)> MemoryAsync(CaptureMode mode)
    {
        var source = await InstallAsync(mode, "p4");
        var table = source.Tables[0].ToString();
        sink.Reset();
        sink.Delay = TimeSpan.FromMilliseconds(1);
        try
        {
            await using var child = await ListenerChild.StartAsync(connectionString, sink.Uri, source);
            await Task.Delay(500);
            var idle = child.Memory().Current;
            var start = Stopwatch.GetTimestamp();
            for (var done = 0; done < settings.P4Events; done += 1000)
            {
                await TestSql.ExecuteAsync(connectionString, $"INSERT INTO {table} (customer, item, qty) SELECT g, repeat('x', 200) || g, 1 FROM generate_series(1, 1000) g");
            }
            await Task.Delay(settings.Quick ? 1000 : 5000);
            var peak = child.Memory().Peak;
            return (peak, idle, sink.Count, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        finally
        {
            sink.Delay = TimeSpan.Zero;
            await UninstallAsync(source);
        }
    }
}
