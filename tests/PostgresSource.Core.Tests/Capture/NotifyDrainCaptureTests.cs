using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.TestSupport;
using Xunit.Abstractions;
using PostgresSource.Core.Capture.Notify;

namespace PostgresSource.Core.Tests.Capture;

/// <summary>
/// Notify capture against the real server: it reads its LISTEN connection whatever its consumer does, holds at most
/// its bound, drops the newest past it (counted and reported), and watches the server's notification queue.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class NotifyDrainCaptureTests(DatabaseFixture database, ITestOutputHelper output)
{
    private const string OrdersTable = "CREATE TABLE orders (id int PRIMARY KEY, item text, qty int)";

    private async Task<(string Db, SourceDefinition Source)> SetUpAsync()
    {
        var db = await database.CreateDatabaseAsync("nd");
        await TestSql.ExecuteAsync(db, OrdersTable);
        var source = CaptureHarness.Source(CaptureMode.Notify, "orders");
        await CaptureHarness.InstallAsync(source, db);
        return (db, source);
    }

    private static int IdOf(CapturedChange change) => CaptureHarness.Payload(change).GetProperty("data").GetProperty("id").GetInt32();

    private static async Task WaitForAsync(Func<bool> condition, TimeSpan timeout, Func<string> describe)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Gave up waiting: " + describe());
            }
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task ACaptureWhoseConsumerStopsKeepsReadingKeepsTheOldestInOrderAndDropsTheNewestPastTheCount()
    {
        const int capacity = 500;
        const int rows = 5_000;
        var (db, source) = await SetUpAsync();
        await using var capture = new NotifyCapture(source, ConnectionSettings.Parse(db), new CaptureOptions { NotifyBufferCapacity = capacity });
        var notices = new ConcurrentQueue<CaptureNotice>();
        using var handlerEntered = new ManualResetEventSlim();
        using var releaseHandler = new ManualResetEventSlim();
        capture.Notice += n =>
        {
            notices.Enqueue(n);
            // The first notice's handler is stuck until the test lets it go: reading must not wait for it.
            handlerEntered.Set();
            releaseHandler.Wait(TimeSpan.FromSeconds(30));
        };
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using var changes = capture.ReadAllAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        var first = changes.MoveNextAsync().AsTask();
        await WaitForAsync(() => capture.IsReady, TimeSpan.FromSeconds(15), () => "not ready");

        // The consumer takes one change, then nothing more.
        await TestSql.ExecuteAsync(db, "INSERT INTO orders VALUES (0, 'first', 0)");
        Assert.True(await first);
        Assert.Equal(0, IdOf(changes.Current));

        var clock = Stopwatch.StartNew();
        await TestSql.ExecuteAsync(db, $"INSERT INTO orders SELECT g, 'x', g FROM generate_series(1, {rows}) g");
        try
        {
            // The capture still reads all 5,000 notifications off the connection.
            await WaitForAsync(() => capture.ReceivedNotifications == 1 + rows, TimeSpan.FromSeconds(30), () => $"received {capture.ReceivedNotifications}");
            var drained = clock.Elapsed;
            Assert.True(handlerEntered.Wait(TimeSpan.FromSeconds(10)));
            Assert.False(releaseHandler.IsSet);
            Assert.Equal(1 + rows, capture.ReceivedNotifications);     // read while the notice handler was stuck
            Assert.Equal(capacity, capture.BufferedChanges);
            Assert.Equal(capacity, capture.PeakBufferedChanges);
            Assert.Equal(rows - capacity, capture.DroppedChanges);
            output.WriteLine($"{rows} rows read off the connection in {drained.TotalMilliseconds:0} ms with the consumer stopped and the notice handler stuck");
        }
        finally
        {
            releaseHandler.Set();
        }

        // What was kept is the oldest, whole and in order: rows 1..500.
        var kept = new List<int>();
        for (var i = 0; i < capacity; i++)
        {
            Assert.True(await changes.MoveNextAsync());
            kept.Add(IdOf(changes.Current));
        }
        Assert.Equal(Enumerable.Range(1, capacity), kept);
        Assert.Equal(0, capture.BufferedChanges);

        // With room again, new changes are kept.
        await TestSql.ExecuteAsync(db, $"INSERT INTO orders SELECT g, 'y', g FROM generate_series({rows + 1}, {rows + 10}) g");
        var after = new List<int>();
        for (var i = 0; i < 10; i++)
        {
            Assert.True(await changes.MoveNextAsync());
            after.Add(IdOf(changes.Current));
        }
        Assert.Equal(Enumerable.Range(rows + 1, 10), after);
        Assert.Equal(rows - capacity, capture.DroppedChanges);

        await WaitForAsync(() => notices.Any(n => n.PossibleLoss), TimeSpan.FromSeconds(10), () => "no PossibleLoss notice");
        var dropped = notices.First(n => n.PossibleLoss);
        Assert.Contains("Notify mode is dropping changes", dropped.Message);
        Assert.Contains($"{capacity} of at most {capacity} changes", dropped.Message);
        Assert.Contains("public.orders INSERT", dropped.Message);
        output.WriteLine($"kept {capacity} (rows 1..{capacity}, in order), dropped {capture.DroppedChanges}; notices: {notices.Count}");
        foreach (var notice in notices)
        {
            output.WriteLine((notice.PossibleLoss ? "loss: " : "note: ") + notice.Message);
        }
    }

    [Fact]
    public async Task AFirstConnectionThatFailsIsStillAnErrorOfTheEnumerationAtOnce()
    {
        // Nothing listens on port 1: the background reader's failure must reach the consumer, as before the reader had a task of its own.
        var source = CaptureHarness.Source(CaptureMode.Notify, "orders");
        await using var capture = new NotifyCapture(source, ConnectionSettings.Parse("Host=127.0.0.1;Port=1;Database=none;Username=x;Password=y;Timeout=5"));
        var clock = Stopwatch.StartNew();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var error = await Record.ExceptionAsync(async () =>
        {
            await foreach (var _ in capture.ReadAllAsync(cts.Token))
            {
            }
        });
        Assert.True(error is NpgsqlException or System.Net.Sockets.SocketException, error?.ToString());
        Assert.False(cts.IsCancellationRequested);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.False(capture.IsReady);
        // And the capture can be read again (here: fail again) once the first enumeration ended.
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await foreach (var _ in capture.ReadAllAsync(cts.Token))
            {
            }
        });
    }

    [Fact]
    public async Task TheByteBoundKeepsOnlyWhatFitsInItsBytes()
    {
        var (db, source) = await SetUpAsync();
        var bytes = CaptureOptions.MinNotifyBufferBytes;
        await using var capture = new NotifyCapture(source, ConnectionSettings.Parse(db), new CaptureOptions { NotifyBufferBytes = bytes });
        var notices = new ConcurrentQueue<CaptureNotice>();
        capture.Notice += notices.Enqueue;
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using var changes = capture.ReadAllAsync(cts.Token).GetAsyncEnumerator(cts.Token);
        var first = changes.MoveNextAsync().AsTask();
        await WaitForAsync(() => capture.IsReady, TimeSpan.FromSeconds(15), () => "not ready");

        // Ids 1000..1999 and 1000 characters each: every payload has the same length. The consumer takes the first only.
        await TestSql.ExecuteAsync(db, "INSERT INTO orders VALUES (1000, repeat('b', 1000), 1)");
        Assert.True(await first);
        var cost = NotifyBuffer.CostOf(changes.Current.PayloadJson);
        var fits = (int)(bytes / cost);
        await TestSql.ExecuteAsync(db, "INSERT INTO orders SELECT g, repeat('b', 1000), 1 FROM generate_series(1001, 1999) g");
        await WaitForAsync(() => capture.ReceivedNotifications == 1000, TimeSpan.FromSeconds(30), () => $"received {capture.ReceivedNotifications}");

        Assert.InRange(fits, 2, 20);
        Assert.Equal(fits, capture.BufferedChanges);
        Assert.Equal(fits * cost, capture.BufferedBytes);
        Assert.True(capture.BufferedBytes <= bytes);
        Assert.Equal(999 - fits, capture.DroppedChanges);
        var kept = new List<int>();
        for (var i = 0; i < fits; i++)
        {
            Assert.True(await changes.MoveNextAsync());
            kept.Add(IdOf(changes.Current));
        }
        Assert.Equal(Enumerable.Range(1001, fits), kept);
        await WaitForAsync(() => notices.Any(n => n.PossibleLoss), TimeSpan.FromSeconds(10), () => "no PossibleLoss notice");
        output.WriteLine($"bound {bytes} bytes; each change costs {cost}; kept {fits}; dropped {capture.DroppedChanges}");
    }

    [Fact]
    public async Task TheQueueWatchWarnsWhileAnotherSessionHoldsTheQueueBackAndSaysWhenItIsBackDown()
    {
        var (db, source) = await SetUpAsync();
        const double threshold = 0.0005; // about 520 of the queue's 1,048,576 pages: 4 MB
        await using var capture = new NotifyCapture(source, ConnectionSettings.Parse(db), new CaptureOptions
        {
            NotifyQueueCheckInterval = TimeSpan.FromMilliseconds(200),
            NotifyQueueWarningThreshold = threshold,
        });
        var notices = new ConcurrentQueue<CaptureNotice>();
        capture.Notice += notices.Enqueue;
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        long read = 0;
        var consumer = Task.Run(async () =>
        {
            try
            {
                await foreach (var _ in capture.ReadAllAsync(cts.Token))
                {
                    Interlocked.Increment(ref read);
                }
            }
            catch (OperationCanceledException)
            {
            }
        });
        await WaitForAsync(() => capture.IsReady && capture.NotificationQueueUsage is not null, TimeSpan.FromSeconds(15), () => "no queue reading");
        Assert.InRange(capture.NotificationQueueUsage!.Value, 0, threshold);

        // Another session LISTENs and then sits idle in a transaction: it reads nothing, so the queue cannot shrink past it.
        await using (var laggard = new NpgsqlConnection(db))
        {
            await laggard.OpenAsync();
            await using (var listen = new NpgsqlCommand("LISTEN somebody_elses_channel", laggard))
            {
                await listen.ExecuteNonQueryAsync();
            }
            await using var idle = await laggard.BeginTransactionAsync();
            await using (var touch = new NpgsqlCommand("SELECT 1", laggard, idle))
            {
                await touch.ExecuteScalarAsync();
            }
            for (var batch = 0; batch < 6; batch++)
            {
                await TestSql.ExecuteAsync(db, $"INSERT INTO orders SELECT g, repeat('q', 400), g FROM generate_series({batch * 5000 + 1}, {(batch + 1) * 5000}) g");
            }
            await WaitForAsync(() => notices.Any(n => n.Message.Contains("notification queue is") && n.Message.Contains("full (warning above")),
                TimeSpan.FromSeconds(20), () => $"usage {capture.NotificationQueueUsage}");
            Assert.True(capture.NotificationQueueUsage > threshold);
            // This capture itself kept up: it read every change although the queue is held back.
            await WaitForAsync(() => Interlocked.Read(ref read) == 30_000, TimeSpan.FromSeconds(30), () => $"read {read}");
            output.WriteLine($"held back by an idle-in-transaction listener: usage {capture.NotificationQueueUsage:0.######}; the capture read {read}");
        }

        // The laggard is gone; the queue's tail moves on the next notifications.
        var usageHeld = capture.NotificationQueueUsage;
        for (var i = 0; i < 200 && !notices.Any(n => n.Message.Contains("no longer above")); i++)
        {
            await TestSql.ExecuteAsync(db, $"INSERT INTO orders SELECT g, repeat('r', 400), g FROM generate_series({100_000 + i * 100}, {100_000 + i * 100 + 99}) g");
            await Task.Delay(100);
        }
        Assert.Contains(notices, n => n.Message.Contains("no longer above"));
        Assert.InRange(capture.NotificationQueueUsage!.Value, 0, threshold);
        Assert.Single(notices, n => n.Message.Contains("full (warning above"));
        Assert.DoesNotContain(notices, n => n.PossibleLoss);
        output.WriteLine($"usage {usageHeld:0.######} -> {capture.NotificationQueueUsage:0.######}");
        foreach (var notice in notices)
        {
            output.WriteLine(notice.Message);
        }
        cts.Cancel();
        await consumer;
    }
}
