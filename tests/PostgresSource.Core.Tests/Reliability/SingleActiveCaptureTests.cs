using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Npgsql;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Capture.Reliability;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Tests.Capture;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Core.Tests.Reliability;

[Collection(DatabaseCollection.Name)]
public sealed class SingleActiveCaptureTests(DatabaseFixture database, ITestOutputHelper output)
{
    [Theory]
    [InlineData(CaptureMode.Durable)]
    [InlineData(CaptureMode.Logical)]
    public async Task StandbyTakesOverWithinSecondsWhenTheActiveListenerDies(CaptureMode mode)
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE t (id int PRIMARY KEY)");
        var source = CaptureHarness.Source(mode, "t");
        await CaptureHarness.InstallAsync(source, db);
        var options = new CaptureOptions
        {
            SingleActive = true,
            StandbyPollInterval = TimeSpan.FromMilliseconds(500),
            JournalPollInterval = TimeSpan.FromMilliseconds(300),
            StatusInterval = TimeSpan.FromMilliseconds(500),
            InitialReconnectDelay = TimeSpan.FromMilliseconds(100),
            MaxReconnectDelay = TimeSpan.FromSeconds(1),
        };
        var connection = ConnectionSettings.Parse(db);
        var seen = new ConcurrentDictionary<string, int>();
        var log = new ConcurrentQueue<CapturedChange>();

        // Rows keep coming throughout.
        using var stopWriting = new CancellationTokenSource();
        var written = 0;
        var writer = Task.Run(async () =>
        {
            while (!stopWriting.IsCancellationRequested)
            {
                await TestSql.ExecuteAsync(db, $"INSERT INTO t VALUES ({Interlocked.Increment(ref written)})");
                await Task.Delay(20);
            }
        });

        var a = Active(source, connection, options);
        var consumerA = new RecordingConsumer(a, seen, log, ackEvery: 10);
        await WaitAsync(() => a.IsActive, "the first listener to become active");
        var b = Active(source, connection, options);
        var bStoodDown = 0;
        b.ActiveChanged += active =>
        {
            if (!active)
            {
                Interlocked.Increment(ref bStoodDown);
            }
        };
        var consumerB = new RecordingConsumer(b, seen, log, ackEvery: 10);
        await Task.Delay(1500);
        Assert.True(a.IsActive);
        Assert.False(b.IsActive); // one active listener per source: the second waits
        Assert.Equal(0, consumerB.Count);

        // The active listener dies: dropped without acknowledging what it holds.
        var clock = Stopwatch.StartNew();
        await consumerA.CrashAsync();
        await WaitAsync(() => b.IsActive, "the standby to take over");
        var firstTakeover = clock.Elapsed;
        var before = consumerB.Count;
        await WaitAsync(() => consumerB.Count > before + 5, "the new active listener to deliver");
        output.WriteLine($"{mode}: standby took over {firstTakeover.TotalMilliseconds:0} ms after the active listener died; delivering {clock.Elapsed.TotalMilliseconds:0} ms after");

        // A third listener joins as standby; then the active one's lock session is killed on the server.
        var c = Active(source, connection, options);
        var consumerC = new RecordingConsumer(c, seen, log, ackEvery: 10);
        await Task.Delay(1000);
        Assert.False(c.IsActive);
        clock.Restart();
        await TestSql.ExecuteAsync(db, $"SELECT pg_terminate_backend({b.LockProcessId})");
        await WaitAsync(() => Volatile.Read(ref bStoodDown) > 0, "the killed listener to stop being active");
        var stepDown = clock.Elapsed;
        await WaitAsync(() => b.IsActive || c.IsActive, "a standby to take over after the kill");
        var secondTakeover = clock.Elapsed;
        Assert.False(b.IsActive && c.IsActive);
        output.WriteLine($"{mode}: after its lock session was killed, the active listener stood down in {stepDown.TotalMilliseconds:0} ms; " +
                         $"{(c.IsActive ? "the standby" : "it")} became active at {secondTakeover.TotalMilliseconds:0} ms");

        stopWriting.Cancel();
        await writer;
        await WaitAsync(() => Keys(log).Count >= written, "every row to arrive", TimeSpan.FromSeconds(30));
        var duplicates = seen.Values.Sum() - seen.Count;
        output.WriteLine($"{mode}: rows written {written}, distinct changes {seen.Count}, duplicates {duplicates}");
        Assert.Equal(written, Keys(log).Count);

        await consumerB.CrashAsync();
        await consumerC.CrashAsync();
        Assert.True(firstTakeover < TimeSpan.FromSeconds(5), $"takeover took {firstTakeover}");
        Assert.True(secondTakeover < TimeSpan.FromSeconds(5), $"takeover took {secondTakeover}");
    }

    private static HashSet<int> Keys(IEnumerable<CapturedChange> log) =>
        log.Select(c => JsonDocument.Parse(c.PayloadJson).RootElement.GetProperty("data").GetProperty("id").GetInt32()).ToHashSet();

    private static async Task WaitAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Gave up waiting for {what}.");
            }
            await Task.Delay(20);
        }
    }

    /// <summary>A single-active capture, made the way the listener and the adapter make it: by the one factory.</summary>
    private static SingleActiveCapture Active(SourceDefinition source, ConnectionSettings connection, CaptureOptions options) =>
        Assert.IsType<SingleActiveCapture>(ChangeCaptureFactory.Create(source, connection, options));
}
