using System.Globalization;
using PostgresSource.Core.Delivery;
using PostgresSource.Benchmarks;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Listening;
using PostgresSource.Core.Sources;
using PostgresSource.TestSupport;

// One command: dotnet run -c Release --project tests/PostgresSource.Benchmarks [-- --quick]
// Provisions PostgreSQL like the tests, runs each measurement per capture mode, prints a Markdown table.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
if (args.Length > 0 && args[0] == "--listener-child")
{
    return await ListenerChild.RunChildAsync(args);
}
return await BenchmarkRunner.RunAsync(args, Console.Out);

namespace PostgresSource.Benchmarks
{
    public static class BenchmarkRunner
    {
        /// <summary>Runs every figure for every registered capture mode and writes the Markdown table; 0 on success.</summary>
        public static async Task<int> RunAsync(string[] args, TextWriter output)
        {
            var settings = BenchmarkSettings.Parse(args);
            var modes = Enum.GetValues<CaptureMode>().Where(ChangeCaptureFactory.Supports).ToList();
            if (args.SkipWhile(a => a != "--modes").Skip(1).FirstOrDefault() is { } only)
            {
                modes = only.Split(',').Select(Enum.Parse<CaptureMode>).ToList();
            }
            output.WriteLine($"PostgresSource benchmarks ({(settings.Quick ? "quick smoke run" : "full run")}) on {Environment.ProcessorCount} cores, .NET {Environment.Version}, modes {string.Join(", ", modes)}");

            await using var server = await PostgresServer.StartAsync();
            var database = await server.CreateDatabaseAsync("bench");
            output.WriteLine($"PostgreSQL: {server.Kind}");
            await using var sink = await BenchSink.StartAsync();
            var e2e = new EndToEndBenchmarks(settings, database, sink);
            var p3 = new WriteOverheadBenchmark(settings);
            var rows = new List<string>();
            void Row(string row)
            {
                rows.Add(row);
                output.WriteLine(row);
            }

            var figures = (args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault() ?? "P1,P2,P3,P4").Split(',');
            foreach (var mode in modes)
            {
                if (figures.Contains("P1"))
                {
                if (mode == modes[0])
                {
                    var a = EventPathAllocations.Measure();
                    Row($"| P1 allocations | all | {a.Create:F0} B/event CloudEvent, {a.Content:F0} B/event HTTP content + headers | {a.Create + a.Content:F0} B/event, {a.MicrosPerEvent:F1} µs/event | | | one thread, GC.GetAllocatedBytesForCurrentThread and wall time over 20,000 events after warm-up (no network) |");
                }
                if (mode == CaptureMode.Logical)
                {
                    var c = await e2e.LogicalCaptureCostAsync();
                    Row($"| P1 capture alone (no listener) | {mode} | {c.ChangesPerSecond:F0} changes/s | {c.BytesPerChange:F0} B, {c.CpuMicrosPerChange:F1} µs CPU per change | (informative) | | LogicalCapture read and acknowledged change by change while it streams one {settings.P1Events}-row transaction; process-wide GC.GetTotalAllocatedBytes and CPU, medians of {settings.Rounds} rounds |");
                }
                foreach (var t in await e2e.ThroughputAsync(mode))
                {
                    var variant = t.Order == DeliveryOrder.Commit ? "commit order (1 in flight)" : $"{(t.Order == DeliveryOrder.Key ? "key order" : "unordered")}, {t.InFlight} in flight";
                    Row($"| P1 throughput, {variant} | {mode} | {t.ListenerRate:F0} ev/s vs reference {t.ReferenceRate:F0} ev/s at {t.InFlight} in flight | **{t.Ratio:F2}** of reference | ≥ 0.8 and ≥ 20,000 ev/s in one mode | {Met(t.Ratio >= 0.8)} ratio, {Met(t.ListenerRate >= 20_000)} 20k | runs listener {Runs(t.ListenerRuns)}; reference {Runs(t.ReferenceRuns)}; {t.AllocatedPerEvent / 1024:F1} KiB allocated per event in the process (sink included); process CPU {t.ListenerCpuMicros:F0} µs per event (reference {t.ReferenceCpuMicros:F0} µs) |");
                }
                }
                if (figures.Contains("P2"))
                {

                var l = await e2e.LatencyAsync(mode);
                Row($"| P2 latency | {mode} | p50 {l.P50:F2} ms, p95 {l.P95:F2} ms, p99 {l.P99:F2} ms | **p99 {l.P99:F2} ms** | p99 ≤ 20 ms | {Met(l.P99 <= 20)} | {l.Samples} rows at {l.AchievedRate:F0}/s; max {l.Max:F1} ms |");
                if (mode == CaptureMode.Logical)
                {
                    var alone = await e2e.CaptureLatencyAsync(mode);
                    Row($"| P2 capture alone (no delivery) | {mode} | INSERT sent→change handed over {alone} | p99 {alone.P99:F2} ms | (informative) | | LogicalCapture read and acknowledged as the rows come, same paced writer and warm-up, no CloudEvent or HTTP |");
                    var bare = await e2e.BareStreamLatencyAsync();
                    Row($"| P2 bare pgoutput stream (no listener) | {mode} | commit→read {bare.CommitToRead} | p99 {bare.CommitToRead.P99:F2} ms | (informative) | | commit→walsender send {bare.CommitToSend}; send→client read {bare.SendToRead} |");
                }
                }
                if (figures.Contains("P3"))
                {

                var target = mode switch { CaptureMode.Notify => 0.87, CaptureMode.Durable => 0.75, _ => 0.97 };
                var profile = await p3.TriggerProfileAsync(database, mode);
                Row($"| P3 trigger profile | {mode} | {profile.TriggerUsPerRow:F1} µs/row in the trigger of {profile.StatementUsPerRow:F1} µs/row for the INSERT | | | | EXPLAIN ANALYZE of a 10,000-row INSERT (commit and NOTIFY delivery not included) |");
                var idle = await p3.RunAsync(database, mode, _ => null);
                Row(P3Row(mode, "(a) no consumer on the box, fsync off", idle, target));
                await ServerDurability.SetAsync(database, durable: true);
                try
                {
                    var durableCommits = await p3.RunAsync(database, mode, _ => null);
                    Row(P3Row(mode, "(a') no consumer on the box, fsync on (PostgreSQL's default)", durableCommits, target));
                }
                finally
                {
                    await ServerDurability.SetAsync(database, durable: false);
                }
                var cpu = new List<string>();
                var withListener = await p3.RunAsync(database, mode, source => new UsageRecorder(ListenerChild.StartAsync(database, sink.Uri, source).GetAwaiter().GetResult(), cpu));
                var walSender = withListener.WalSenderCpuPer10k is { } w ? $" walsender {w:F2} s CPU per 10,000 transactions;" : "";
                Row(P3Row(mode, "(b) listener + sink on the same 2 cores", withListener, target) + $"{walSender} listener process CPU: {string.Join(", ", cpu)} |");
                if (mode == CaptureMode.Notify)
                {
                    var raw = await p3.RunAsync(database, mode, source => RawListenDrain.Start(database, source.DatabaseObjectName));
                    Row(P3Row(mode, "(c) bare LISTEN drain, no HTTP", raw, target));
                }
                }
                if (figures.Contains("P3F"))
                {
                    // The filtered figure beside the unfiltered one, pair by pair in the same minutes.
                    var target = mode switch { CaptureMode.Notify => 0.87, CaptureMode.Durable => 0.75, _ => 0.97 };
                    Row(P3Row(mode, "(a) no consumer, fsync off, unfiltered", await p3.RunAsync(database, mode, _ => null), target));
                    Row(P3Row(mode, "(a) no consumer, fsync off, filtered (3 of 5 columns, half the rows)", await p3.RunAsync(database, mode, _ => null, filtered: true), target));
                    var cpu = new List<string>();
                    var plain = await p3.RunAsync(database, mode, source => new UsageRecorder(ListenerChild.StartAsync(database, sink.Uri, source).GetAwaiter().GetResult(), cpu));
                    Row(P3Row(mode, "(b) listener + sink, unfiltered", plain, target) + $" listener process CPU: {string.Join(", ", cpu)} |");
                    cpu.Clear();
                    var filtered = await p3.RunAsync(database, mode, source => new UsageRecorder(ListenerChild.StartAsync(database, sink.Uri, source).GetAwaiter().GetResult(), cpu), filtered: true);
                    Row(P3Row(mode, "(b) listener + sink, filtered (3 of 5 columns, half the rows)", filtered, target) + $" listener process CPU: {string.Join(", ", cpu)} |");
                }
                if (figures.Contains("P4"))
                {

                var m = await e2e.MemoryAsync(mode);
                Row($"| P4 memory | {mode} | peak RSS {m.PeakMb:F0} MB (idle {m.IdleMb:F0} MB) | **{m.PeakMb:F0} MB** | ≤ 150 MB | {Met(m.PeakMb <= 150)} | sink 1 ms/event; {settings.P4Events} rows written, {m.Delivered} delivered in {m.Seconds:F0} s |");
                }
            }

            output.WriteLine();
            output.WriteLine("| figure | mode | measured | result | target | met | detail |");
            output.WriteLine("|---|---|---|---|---|---|---|");
            rows.ForEach(output.WriteLine);
            return 0;
        }

        private static string P3Row(CaptureMode mode, string variant, WriteOverheadBenchmark.Result r, double target) =>
            $"| P3 write overhead {variant} | {mode} | {r.WithSourceTps:F0} / {r.BaselineTps:F0} tps | **{r.Ratio:F3}** | ≥ {target:F2} | {Met(r.Ratio >= target)} | median of {r.WithSourceRuns.Count} pair ratios; with: {Runs(r.WithSourceRuns)}; without: {Runs(r.BaselineRuns)} |";

        private sealed class UsageRecorder(ListenerChild child, List<string> usage) : IAsyncDisposable
        {
            public async ValueTask DisposeAsync()
            {
                await child.DisposeAsync();
                usage.Add($"{ListenerChild.LastUsage.Cpu:F1} s CPU in {ListenerChild.LastUsage.Wall:F1} s");
            }
        }

        private static string Met(bool met) => met ? "yes" : "no";

        private static string Runs(IEnumerable<double> runs) => string.Join(", ", runs.Select(v => v.ToString("F0")));
    }
}
