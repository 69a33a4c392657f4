using PostgresSource.Core.Capture;
using PostgresSource.Core.Capture.Notify;

namespace PostgresSource.Core.Tests.Capture;

/// <summary>Notify mode's buffer bounds, its rate-limited drop reports, the queue-usage warning and the options' checks, without a server.</summary>
public sealed class NotifyBufferTests
{
    private static string Payload(int id, int payloadChars = 0)
    {
        var head = $"{{\"table\":\"orders\",\"action\":\"INSERT\",\"data\":{{\"id\":{id}}}";
        return head + new string(' ', Math.Max(0, payloadChars - head.Length - 1)) + "}";
    }

    private static CapturedChange Change(int id, string table = "orders", ChangeOperation operation = ChangeOperation.Insert) =>
        new() { Schema = "public", Table = table, Operation = operation, PayloadJson = Payload(id) };

    private static List<string> TakeAll(NotifyBuffer buffer)
    {
        var taken = new List<string>();
        while (buffer.TryTake(out var payload))
        {
            taken.Add(payload);
        }
        return taken;
    }

    private static int IdOf(string payload) => System.Text.Json.JsonDocument.Parse(payload).RootElement.GetProperty("data").GetProperty("id").GetInt32();

    [Fact]
    public void TheCountBoundRefusesTheNewestAndKeepsWhatIsHeldInOrder()
    {
        var buffer = new NotifyBuffer(capacity: 3, maxBytes: 1 << 20);
        Assert.Equal([true, true, true, false, false], Enumerable.Range(1, 5).Select(i => buffer.TryAdd(Payload(i))));
        Assert.Equal(3, buffer.Count);

        Assert.True(buffer.TryTake(out var oldest));
        Assert.Equal(1, IdOf(oldest));
        Assert.True(buffer.TryAdd(Payload(6)));     // room for one again
        Assert.False(buffer.TryAdd(Payload(7)));

        Assert.Equal([2, 3, 6], TakeAll(buffer).Select(IdOf));
        Assert.Equal(0, buffer.Count);
        Assert.Equal(0, buffer.Bytes);
        Assert.Equal(3, buffer.Peak);
    }

    [Fact]
    public void TheByteBoundCountsPayloadCharactersTwiceAndRefusesWhatWouldGoOver()
    {
        var buffer = new NotifyBuffer(capacity: 1000, maxBytes: 1000);
        var a = Payload(1, payloadChars: 200);
        Assert.Equal(200, a.Length);
        Assert.Equal(400, NotifyBuffer.CostOf(a));

        Assert.True(buffer.TryAdd(a));
        Assert.True(buffer.TryAdd(Payload(2, 200)));
        Assert.Equal(800, buffer.Bytes);
        Assert.False(buffer.TryAdd(Payload(3, 200)));   // 1200 > 1000
        Assert.False(buffer.TryAdd(Payload(4, 300)));   // nor a bigger one
        Assert.True(buffer.TryAdd(Payload(5, 100)));    // 1000 of 1000: exactly full still fits
        Assert.Equal(1000, buffer.Bytes);
        Assert.False(buffer.TryAdd(Payload(6, 60)));

        Assert.True(buffer.TryTake(out _));
        Assert.Equal(600, buffer.Bytes);
        Assert.True(buffer.TryAdd(Payload(7, 200)));
        Assert.Equal([2, 5, 7], TakeAll(buffer).Select(IdOf));
        Assert.Equal(0, buffer.Bytes);
        Assert.Equal(3, buffer.Peak);
    }

    [Fact]
    public async Task ACompletedBufferStillHandsOutWhatItHoldsThenSaysItIsDone()
    {
        var buffer = new NotifyBuffer(10, 1 << 20);
        var waiting = buffer.WaitToTakeAsync(CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted);
        buffer.TryAdd(Payload(1));
        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(5)));
        buffer.TryAdd(Payload(2));
        buffer.Complete();
        Assert.False(buffer.TryAdd(Payload(3)));
        Assert.True(await buffer.WaitToTakeAsync(CancellationToken.None));
        Assert.Equal([1, 2], TakeAll(buffer).Select(IdOf));
        Assert.False(await buffer.WaitToTakeAsync(CancellationToken.None));
    }

    [Fact]
    public async Task ManyAddersAndOneTakerNeverGoOverTheBoundAndLoseNothingUncounted()
    {
        const int capacity = 100;
        var buffer = new NotifyBuffer(capacity, 1 << 20);
        long refused = 0, taken = 0, maxSeen = 0;
        using var stop = new CancellationTokenSource();
        var taker = Task.Run(async () =>
        {
            while (await buffer.WaitToTakeAsync(CancellationToken.None))
            {
                while (buffer.TryTake(out _))
                {
                    taken++;
                    maxSeen = Math.Max(maxSeen, buffer.Count);
                    if (taken % 7 == 0)
                    {
                        await Task.Yield();
                    }
                }
            }
        });
        var adders = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            for (var i = 0; i < 50_000; i++)
            {
                if (!buffer.TryAdd(Payload(i)))
                {
                    Interlocked.Increment(ref refused);
                }
            }
        })).ToArray();
        await Task.WhenAll(adders);
        buffer.Complete();
        await taker.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(200_000, taken + refused);
        Assert.InRange(buffer.Peak, 1, capacity);
        Assert.InRange(maxSeen, 0, capacity);
        Assert.Equal(0, buffer.Count);
    }

    private sealed class ManualTime : TimeProvider
    {
        private long _ticks = TimeSpan.TicksPerDay;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }

    [Fact]
    public void TheFirstDropIsReportedAtOnceThenAtMostOneSummaryPerInterval()
    {
        var time = new ManualTime();
        var report = new NotifyDropReport(TimeSpan.FromSeconds(5), time);

        var first = report.Count(Change(1));
        Assert.NotNull(first);
        Assert.Null(first.Since);
        Assert.Equal(1, first.Count);
        Assert.Equal(1, first.Total);
        Assert.Equal([("public.orders INSERT", 1L)], first.Targets);

        // 99 more within the interval: nothing to say yet, whether asked by a drop or by the timer.
        for (var i = 0; i < 99; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(49));
            var operation = i % 3 == 0 ? ChangeOperation.Update : ChangeOperation.Insert;
            Assert.Null(report.Count(Change(i, table: i < 90 ? "orders" : "items", operation: operation)));
            Assert.Null(report.TakeDue());
        }
        Assert.Equal(100, report.Total);
        time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromMilliseconds(49 * 99));

        var summary = report.TakeDue();
        Assert.NotNull(summary);
        Assert.Equal(99, summary.Count);
        Assert.Equal(100, summary.Total);
        Assert.Equal(TimeSpan.FromSeconds(5), summary.Since);
        Assert.Equal([("public.orders INSERT", 60L), ("public.orders UPDATE", 30L), ("public.items INSERT", 6L), ("public.items UPDATE", 3L)], summary.Targets);
        Assert.Null(report.TakeDue());   // nothing new

        // Drops stop for a while; the next one starts a new episode and is reported at once again.
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.Null(report.TakeDue());
        var again = report.Count(Change(7, operation: ChangeOperation.Delete));
        Assert.NotNull(again);
        Assert.Null(again.Since);
        Assert.Equal(1, again.Count);
        Assert.Equal(101, again.Total);
        Assert.Equal([("public.orders DELETE", 1L)], again.Targets);
    }

    [Fact]
    public void AnHourOfContinuousDropsMakesOneReportPerIntervalAndCountsEveryDrop()
    {
        var time = new ManualTime();
        var report = new NotifyDropReport(TimeSpan.FromSeconds(5), time);
        var reports = new List<DroppedChanges>();
        for (var ms = 0; ms < 3_600_000; ms += 10)
        {
            // 100 drops a second, and the capture's timer asking every second.
            if (report.Count(Change(ms)) is { } now)
            {
                reports.Add(now);
            }
            if (ms % 1000 == 0 && report.TakeDue() is { } due)
            {
                reports.Add(due);
            }
            time.Advance(TimeSpan.FromMilliseconds(10));
        }
        if (report.TakePending() is { } rest)
        {
            reports.Add(rest);
        }

        Assert.Equal(360_000, report.Total);
        Assert.Equal(360_000, reports.Sum(r => r.Count));
        Assert.InRange(reports.Count, 3_600 / 5, 3_600 / 5 + 2);
        Assert.Single(reports, r => r.Since is null);
        Assert.All(reports.Skip(1).SkipLast(1), r => Assert.True(r.Since >= TimeSpan.FromSeconds(5)));
        Assert.Null(report.TakePending());
    }

    [Fact]
    public void TheQueueWarningIsRaisedOncePerCrossingAndOnceWhenBackBelow()
    {
        var notices = new List<string>();
        var watch = new NotificationQueueWatch("Host=unused", 0.5, (message, possibleLoss) =>
        {
            Assert.False(possibleLoss);
            notices.Add(message);
        });
        Assert.Null(watch.Last);

        foreach (var usage in new[] { 0.0, 0.1, 0.5, 0.51, 0.8, 0.9, 0.6, 0.5, 0.2, 0.0, 0.7, 0.3 })
        {
            watch.Observe(usage);
        }

        Assert.Equal(0.3, watch.Last);
        Assert.Collection(notices,
            n => Assert.StartsWith("PostgreSQL's notification queue is 51% full (warning above 50%)", n),
            n => Assert.Equal("PostgreSQL's notification queue is no longer above 50% (now 50% full).", n),
            n => Assert.StartsWith("PostgreSQL's notification queue is 70% full", n),
            n => Assert.Equal("PostgreSQL's notification queue is no longer above 50% (now 30% full).", n));
        Assert.Contains("every NOTIFY in the cluster fails at commit", notices[0]);
    }

    [Fact]
    public void TheNotifyOptionsHaveDocumentedDefaultsAndAreChecked()
    {
        var defaults = CaptureOptions.Default.Validate();
        Assert.Equal(50_000, defaults.NotifyBufferCapacity);
        Assert.Equal(64L * 1024 * 1024, defaults.NotifyBufferBytes);
        Assert.Equal(TimeSpan.FromSeconds(5), defaults.NotifyDropReportInterval);
        Assert.Equal(TimeSpan.FromSeconds(10), defaults.NotifyQueueCheckInterval);
        Assert.Equal(0.5, defaults.NotifyQueueWarningThreshold);
        new CaptureOptions { NotifyQueueCheckInterval = null, NotifyBufferBytes = CaptureOptions.MinNotifyBufferBytes, NotifyBufferCapacity = 1, NotifyQueueWarningThreshold = 1 }.Validate();

        foreach (var (bad, name) in new (CaptureOptions, string)[]
                 {
                     (new() { NotifyBufferCapacity = 0 }, nameof(CaptureOptions.NotifyBufferCapacity)),
                     (new() { NotifyBufferBytes = CaptureOptions.MinNotifyBufferBytes - 1 }, nameof(CaptureOptions.NotifyBufferBytes)),
                     (new() { NotifyDropReportInterval = TimeSpan.Zero }, nameof(CaptureOptions.NotifyDropReportInterval)),
                     (new() { NotifyQueueCheckInterval = TimeSpan.FromMilliseconds(10) }, nameof(CaptureOptions.NotifyQueueCheckInterval)),
                     (new() { NotifyQueueWarningThreshold = 0 }, nameof(CaptureOptions.NotifyQueueWarningThreshold)),
                     (new() { NotifyQueueWarningThreshold = 1.5 }, nameof(CaptureOptions.NotifyQueueWarningThreshold)),
                     (new() { NotifyQueueWarningThreshold = double.NaN }, nameof(CaptureOptions.NotifyQueueWarningThreshold)),
                 })
        {
            var error = Assert.Throws<ArgumentOutOfRangeException>(() => bad.Validate());
            Assert.Equal(name, error.ParamName);
        }
    }
}
