using System.Diagnostics;
using System.Text.Json;
using Npgsql;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Listening;
using PostgresSource.TestReceivers;
using PostgresSource.TestSupport;
using Xunit.Abstractions;
using PostgresSource.Core.Capture.Notify;

namespace PostgresSource.Core.Tests.Listener;

/// <summary>
/// Notify mode must protect the database: while the sink is slow or down, the listener still drains PostgreSQL's
/// notification queue (so users' writes never fail at commit), losing nothing within its buffer and reporting what
/// it drops past it. Real PostgreSQL, real HTTP receiver.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class NotifyDrainListenerTests(DatabaseFixture database, ITestOutputHelper output)
{
    /// <summary>No limit (the default), but at most a second between attempts, so delivery resumes soon after the outage.</summary>
    private static RetryPolicy UntilItAnswers => new() { InitialDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1) };

    /// <summary>
    /// The bound asserted for pg_notification_queue_usage() while rows are written and the sink is down: 1% of the 8 GB
    /// queue. A listener that stopped reading lets it grow by every row's entry (measured: a session that LISTENs and
    /// does not read reaches 0.0168 after these 200,000 rows); one that drains keeps it within a few pages (0.0001% each).
    /// </summary>
    private const double QueueUsageBound = 0.01;

    private static int RowId(CloudNative.CloudEvents.CloudEvent e) => ((JsonElement)e.Data!).GetProperty("data").GetProperty("id").GetInt32();

    /// <summary>Reads pg_notification_queue_usage() on a connection of its own until stopped; the highest value seen.</summary>
    private sealed class QueueUsageSampler : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private double _max;
        private double _last;
        private int _samples;

        public QueueUsageSampler(string connectionString, TimeSpan every)
        {
            _loop = Task.Run(async () =>
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand("SELECT pg_notification_queue_usage()", connection);
                while (!_stop.IsCancellationRequested)
                {
                    var usage = (double)(await command.ExecuteScalarAsync())!;
                    lock (this)
                    {
                        _max = Math.Max(_max, usage);
                        _last = usage;
                        _samples++;
                    }
                    try
                    {
                        await Task.Delay(every, _stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
            });
        }

        public (double Max, int Samples) Result
        {
            get
            {
                lock (this)
                {
                    return (_max, _samples);
                }
            }
        }

        public double Last
        {
            get
            {
                lock (this)
                {
                    return _last;
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            await _loop;
            _stop.Dispose();
        }
    }

    [Fact]
    public async Task ASinkAnswering503For30SecondsWhileFourWritersWrite1000RowsLosesNone()
    {
        var outage = TimeSpan.FromSeconds(30);
        var clock = new Stopwatch();
        await using var receiver = await CloudEventReceiver.StartAsync(_ => !clock.IsRunning || clock.Elapsed < outage ? 503 : 200);
        await using var harness = await ListenerHarness.StartAsync(database, _ => new HttpEventSink(receiver.Url), UntilItAnswers);
        var capture = Assert.IsType<NotifyCapture>(harness.Listener.Capture);
        await using var sampler = new QueueUsageSampler(harness.ConnectionString, TimeSpan.FromMilliseconds(250));
        clock.Start();

        // Four writers, 250 single-row transactions each, paced over about 15 s of the outage.
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            await using var connection = new NpgsqlConnection(harness.ConnectionString);
            await connection.OpenAsync();
            for (var i = 0; i < 250; i++)
            {
                await using var insert = new NpgsqlCommand("INSERT INTO orders (id, item, qty) VALUES (@id, @item, @qty)", connection);
                var id = w * 250 + i + 1;
                insert.Parameters.AddWithValue("id", id);
                insert.Parameters.AddWithValue("item", $"writer {w} row {i}");
                insert.Parameters.AddWithValue("qty", i);
                await insert.ExecuteNonQueryAsync();
                await Task.Delay(60);
            }
        })).ToArray();
        await Task.WhenAll(writers);
        var written = clock.Elapsed;

        // While the sink still refuses everything, the capture has read every notification off its connection.
        Assert.True(await ListenerHarness.EventuallyAsync(() => capture.ReceivedNotifications == 1000, TimeSpan.FromSeconds(10)), $"read {capture.ReceivedNotifications}");
        var readAll = clock.Elapsed;
        var heldByCapture = capture.BufferedChanges;
        var heldByListener = harness.Statistics.Buffered;
        Assert.True(readAll < outage, $"the capture read everything only at {readAll}");
        Assert.Equal(0, harness.Statistics.Delivered);
        Assert.Equal(1000, heldByCapture + harness.Statistics.Received);

        Assert.True(await ListenerHarness.EventuallyAsync(() => harness.Statistics.Delivered >= 1000, TimeSpan.FromSeconds(90)),
            $"delivered {harness.Statistics.Delivered} of 1000");
        var delivered = clock.Elapsed;
        await Task.Delay(300);
        var ids = receiver.Accepted.Select(RowId).ToList();
        var (maxUsage, samples) = sampler.Result;

        Assert.Equal(Enumerable.Range(1, 1000), ids.Distinct().Order());
        Assert.True(ids.Count >= 1000);                         // every row at least once (a retried request may have been taken twice)
        Assert.Equal(0, capture.DroppedChanges);
        Assert.Equal(0, harness.Statistics.Failed);
        Assert.DoesNotContain(harness.ReportsOf(ListenerReportKind.CaptureNotice), r => r.PossibleLoss);
        Assert.True(harness.Statistics.Retried > 0);
        Assert.InRange(maxUsage, 0, QueueUsageBound);
        output.WriteLine($"1000 rows written by 4 writers by {written.TotalSeconds:0.0} s; all read off the LISTEN connection by {readAll.TotalSeconds:0.0} s " +
                         $"(capture held {heldByCapture}, listener {heldByListener}; peak in the capture {capture.PeakBufferedChanges}); " +
                         $"503s: {receiver.Requests.Count(r => r.Status == 503)}; all 1000 delivered by {delivered.TotalSeconds:0.0} s (outage {outage.TotalSeconds:0} s); " +
                         $"accepted {ids.Count} ({ids.Count - 1000} duplicates), distinct rows {ids.Distinct().Count()}; " +
                         $"max pg_notification_queue_usage {maxUsage:0.########} over {samples} samples; dropped {capture.DroppedChanges}");
    }

    [Fact]
    public async Task ADeadSinkWhile200000RowsAreWrittenKeepsTheQueueEmptyTheBufferBoundedAndReportsTheDrops()
    {
        const int bound = 10_000;
        const int rows = 200_000;
        const int writers = 4;
        const int perStatement = 1_000;
        const int RowsPerSecond = 10_000;
        await using var receiver = await CloudEventReceiver.StartAsync(_ => 503);
        await using var harness = await ListenerHarness.StartAsync(database, _ => new HttpEventSink(receiver.Url), UntilItAnswers,
            options: new ListenerOptions { DrainTimeout = TimeSpan.FromMilliseconds(500) },
            captureOptions: new CaptureOptions { NotifyBufferCapacity = bound, NotifyQueueCheckInterval = TimeSpan.FromSeconds(1) });
        var capture = Assert.IsType<NotifyCapture>(harness.Listener.Capture);
        var clock = Stopwatch.StartNew();

        // The capture's buffer, sampled as fast as the test can.
        var maxBuffered = 0;
        var bufferSamples = 0;
        using var stopSampling = new CancellationTokenSource();
        var bufferSampler = Task.Run(async () =>
        {
            while (!stopSampling.IsCancellationRequested)
            {
                maxBuffered = Math.Max(maxBuffered, capture.BufferedChanges);
                bufferSamples++;
                await Task.Delay(5);
            }
        });
        await using var sampler = new QueueUsageSampler(harness.ConnectionString, TimeSpan.FromMilliseconds(100));

        // Four writers, 1,000-row INSERTs, together about 10,000 rows a second for 20 s: a heavy sustained load
        // that this server drains (a flat-out bulk load on a shared 2-core machine measures NOTIFY's own throughput instead).
        var failures = new List<string>();
        long committed = 0;
        var statementEvery = TimeSpan.FromMilliseconds(writers * perStatement * 1000.0 / RowsPerSecond);
        var writing = Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            await using var connection = new NpgsqlConnection(harness.ConnectionString);
            await connection.OpenAsync();
            var k = 0;
            for (var from = w * perStatement + 1; from <= rows; from += writers * perStatement, k++)
            {
                var due = statementEvery * (k + w / (double)writers) - clock.Elapsed;
                if (due > TimeSpan.Zero)
                {
                    await Task.Delay(due);
                }
                try
                {
                    await using var insert = new NpgsqlCommand("INSERT INTO orders SELECT g, repeat('x', 500), g FROM generate_series(@from, @to) g", connection);
                    insert.Parameters.AddWithValue("from", from);
                    insert.Parameters.AddWithValue("to", Math.Min(from + perStatement - 1, rows));
                    Interlocked.Add(ref committed, await insert.ExecuteNonQueryAsync());
                }
                catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
                {
                    lock (failures)
                    {
                        failures.Add(ex.Message);
                    }
                }
            }
        })).ToArray();
        await Task.WhenAll(writing);
        var written = clock.Elapsed;
        var count = await TestSql.ScalarAsync<long>(harness.ConnectionString, "SELECT count(*) FROM orders");

        Assert.True(await ListenerHarness.EventuallyAsync(() => capture.ReceivedNotifications == count, TimeSpan.FromSeconds(45)),
            $"read {capture.ReceivedNotifications} of {count}");
        var readAll = clock.Elapsed;
        // Let the listener settle: its queue full, its head event retried, nothing moving.
        long lastTaken = -1;
        while (harness.Statistics.Received != lastTaken)
        {
            lastTaken = harness.Statistics.Received;
            await Task.Delay(500);
        }
        stopSampling.Cancel();
        await bufferSampler;
        await Task.Delay(300);
        var (maxUsage, usageSamples) = sampler.Result;
        var usageAfter = sampler.Last;
        var buffered = capture.BufferedChanges;
        var taken = harness.Statistics.Received;
        var dropped = capture.DroppedChanges;

        Assert.Empty(failures);
        Assert.Equal(rows, count);
        Assert.Equal(rows, committed);
        Assert.InRange(maxBuffered, 1, bound);
        Assert.Equal(bound, capture.PeakBufferedChanges);
        Assert.Equal(bound, buffered);                                  // full, on the count (10,000 of these rows are ~11 MB, under the 64 MiB)
        Assert.Equal(ListenerOptions.Default.QueueCapacity, taken);     // what the listener holds, retrying the first
        Assert.True(dropped > 0);
        Assert.Equal(rows - buffered - taken, dropped);                 // every row is buffered, held by the listener, or counted dropped
        Assert.Equal(0, harness.Statistics.Delivered);
        Assert.InRange(maxUsage, 0, QueueUsageBound);
        Assert.InRange(usageAfter, 0, QueueUsageBound / 10);          // with the sink still dead: a stopped reader would hold all 200,000
        Assert.NotNull(capture.NotificationQueueUsage);
        Assert.InRange(capture.NotificationQueueUsage!.Value, 0, QueueUsageBound);
        var losses = harness.ReportsOf(ListenerReportKind.CaptureNotice).Where(r => r.PossibleLoss).ToList();
        Assert.Contains(losses, r => r.Message.Contains("Notify mode is dropping changes") && r.Message.Contains("public.orders INSERT"));
        // Rate-limited: the first at once, then at most one per 5 s (and one more when the listener stops).
        Assert.InRange(losses.Count, 1, 2 + (int)(clock.Elapsed.TotalSeconds / 5));
        Assert.Equal(0, harness.ReportsOf(ListenerReportKind.CaptureNotice).Count(r => r.Message.Contains("notification queue is")));

        output.WriteLine($"{rows} rows by {writers} writers in {perStatement}-row INSERTs in {written.TotalSeconds:0.0} s, none failed; " +
                         $"all read off the LISTEN connection by {readAll.TotalSeconds:0.0} s; sink requests {receiver.Requests.Count} (all 503)");
        output.WriteLine($"capture buffer: max sampled {maxBuffered} over {bufferSamples} samples, peak {capture.PeakBufferedChanges}, now {buffered} " +
                         $"({capture.BufferedBytes / 1024 / 1024.0:0.0} MiB), bound {bound}; listener holds {taken}; dropped {dropped} = {rows} - {buffered} - {taken}");
        output.WriteLine($"pg_notification_queue_usage(): max {maxUsage:0.########} over {usageSamples} samples (bound {QueueUsageBound}), {usageAfter:0.########} once read; " +
                         $"the capture's own last reading {capture.NotificationQueueUsage:0.########}");
        foreach (var loss in losses)
        {
            output.WriteLine("notice: " + loss.Message);
        }
    }
}
