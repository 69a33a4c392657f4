using System.Collections.Concurrent;
using System.Text.Json;
using CloudNative.CloudEvents;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Listening;
using PostgresSource.Core.Sources;
using PostgresSource.TestReceivers;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Core.Tests.Listener;

/// <summary>
/// Durable source, real PostgreSQL, real HTTP: a change is acknowledged (its journal row deleted) only when the
/// sink or the dead-letter sink took it, or skipping was chosen. Each fault exceeds the limit it tests.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class AcknowledgementRuleTests(DatabaseFixture database, ITestOutputHelper output)
{
    private static RetryPolicy Fast(int? attempts = null) =>
        new() { MaxAttempts = attempts, InitialDelay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromMilliseconds(300) };

    private static int? RowId(CloudEvent? cloudEvent)
    {
        if (cloudEvent?.Data is null)
        {
            return null;
        }
        var json = cloudEvent.Data switch
        {
            string text => text,
            byte[] bytes => System.Text.Encoding.UTF8.GetString(bytes),
            JsonElement element => element.GetRawText(),
            var other => other.ToString()!,
        };
        using var document = JsonDocument.Parse(json);
        return document.RootElement.GetProperty("data").GetProperty("id").GetInt32();
    }

    private static async Task InsertOneByOneAsync(ListenerHarness harness, int count)
    {
        for (var i = 1; i <= count; i++)
        {
            await TestSql.ExecuteAsync(harness.ConnectionString, $"INSERT INTO orders VALUES ({i}, 'item {i}', {i})");
        }
    }

    [Fact]
    public async Task AnOutageLongerThanAnyRetryBudgetLosesNothingAndDeletesNoJournalRowWhileItLasts()
    {
        var down = true;
        await using var receiver = await CloudEventReceiver.StartAsync(_ => Volatile.Read(ref down) ? 503 : 202);
        await using var harness = await ListenerHarness.StartAsync(database, _ => new HttpEventSink(receiver.Url), Fast(), mode: CaptureMode.Durable);
        await InsertOneByOneAsync(harness, 40);

        // Far beyond the old 5-attempt budget (~3 s): every attempt fails for 6 s.
        var outage = DateTime.UtcNow.AddSeconds(6);
        while (DateTime.UtcNow < outage)
        {
            Assert.Equal(40L, await harness.JournalRowsAsync());
            await Task.Delay(250);
        }
        Assert.True(receiver.Requests.Count > 10, $"only {receiver.Requests.Count} attempts during the outage");
        Assert.Equal(SinkState.Down, harness.Statistics.SinkState);
        Assert.NotNull(harness.Statistics.OldestUnacknowledgedAge);
        Assert.True(harness.Statistics.OldestUnacknowledgedAge > TimeSpan.FromSeconds(5));
        Assert.Equal(0, harness.Statistics.Failed);
        Volatile.Write(ref down, false);

        Assert.True(await ListenerHarness.EventuallyAsync(() => harness.Statistics.Delivered == 40, TimeSpan.FromSeconds(20)));
        Assert.Equal(Enumerable.Range(1, 40), receiver.Accepted.Select(e => RowId(e)!.Value).Distinct().Order());
        Assert.True(await ListenerHarness.EventuallyAsync(() => harness.JournalRowsAsync().Result == 0, TimeSpan.FromSeconds(10)));
        Assert.Equal(SinkState.Up, harness.Statistics.SinkState);
        Assert.True(harness.Statistics.Responses["503"] > 10);
        Assert.Equal(40, harness.Statistics.Responses["202"]);
        output.WriteLine($"{receiver.Requests.Count} requests; {harness.Statistics}");
    }

    [Fact]
    public async Task APoisonChangeWithoutADeadLetterSinkStopsTheSourceAndStaysInTheJournal()
    {
        await using var receiver = await CloudEventReceiver.StartAsync();
        receiver.RespondTo = (_, e) => RowId(e) == 3 ? 400 : 202;
        await using var harness = await ListenerHarness.StartAsync(database, _ => new HttpEventSink(receiver.Url), Fast(), mode: CaptureMode.Durable);
        await InsertOneByOneAsync(harness, 5);

        var error = await Assert.ThrowsAsync<UndeliverableChangeException>(() => harness.Run.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(400, error.StatusCode);
        var poisonId = receiver.Requests.Single(r => RowId(r.Event) == 3).Event!.Id;
        Assert.Equal(poisonId, error.ChangeId);
        Assert.Contains(poisonId!, error.Message);
        Assert.Equal([1, 2], receiver.Accepted.Select(e => RowId(e)!.Value));
        await harness.Listener.DisposeAsync();
        // Rows 1 and 2 were taken; 3 (refused) and everything after it stay.
        Assert.Equal(3L, await harness.JournalRowsAsync());
    }

    [Fact]
    public async Task APoisonChangeGoesToTheDeadLetterSinkAndTheStreamGoesOn()
    {
        await using var receiver = await CloudEventReceiver.StartAsync();
        receiver.RespondTo = (_, e) => RowId(e) == 3 ? 400 : 202;
        await using var letters = await CloudEventReceiver.StartAsync();
        await using var harness = await ListenerHarness.StartAsync(database, _ => new HttpEventSink(receiver.Url), Fast(),
            deadLetter: new HttpEventSink(letters.Url), mode: CaptureMode.Durable);
        await InsertOneByOneAsync(harness, 5);

        Assert.True(await ListenerHarness.EventuallyAsync(() => harness.Statistics.Finished == 5, TimeSpan.FromSeconds(20)));
        Assert.Equal([1, 2, 4, 5], receiver.Accepted.Select(e => RowId(e)!.Value));
        Assert.Equal(3, RowId(Assert.Single(letters.Accepted)));
        Assert.Equal(1, harness.Statistics.DeadLettered);
        Assert.True(await ListenerHarness.EventuallyAsync(() => harness.JournalRowsAsync().Result == 0, TimeSpan.FromSeconds(10)));
        Assert.False(harness.Run.IsCompleted);
    }

    [Fact]
    public async Task APoisonChangeIsReportedAndSkippedWhenSkippingIsChosen()
    {
        await using var receiver = await CloudEventReceiver.StartAsync();
        receiver.RespondTo = (_, e) => RowId(e) == 3 ? 400 : 202;
        await using var harness = await ListenerHarness.StartAsync(database, _ => new HttpEventSink(receiver.Url), Fast(),
            options: new ListenerOptions { OnUndeliverable = UndeliverableAction.Skip }, mode: CaptureMode.Durable);
        await InsertOneByOneAsync(harness, 5);

        Assert.True(await ListenerHarness.EventuallyAsync(() => harness.Statistics.Finished == 5, TimeSpan.FromSeconds(20)));
        Assert.Equal([1, 2, 4, 5], receiver.Accepted.Select(e => RowId(e)!.Value));
        var skipped = Assert.Single(harness.ReportsOf(ListenerReportKind.Skipped));
        Assert.Equal(receiver.Requests.Single(r => RowId(r.Event) == 3).Event!.Id, skipped.Event!.Id);
        Assert.Equal(400, skipped.StatusCode);
        Assert.True(await ListenerHarness.EventuallyAsync(() => harness.JournalRowsAsync().Result == 0, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task AChangeThatCannotBecomeAnEventStopsTheSourceOrIsSkippedAsChosen()
    {
        foreach (var action in new[] { UndeliverableAction.Stop, UndeliverableAction.Skip })
        {
            await using var receiver = await CloudEventReceiver.StartAsync();
            await using var harness = await ListenerHarness.StartAsync(database, _ => new HttpEventSink(receiver.Url), Fast(),
                options: new ListenerOptions { OnUndeliverable = action }, mode: CaptureMode.Durable,
                wrapCapture: capture => new UnbuildableThirdChange(capture));
            await InsertOneByOneAsync(harness, 5);

            if (action == UndeliverableAction.Stop)
            {
                var error = await Assert.ThrowsAsync<UndeliverableChangeException>(() => harness.Run.WaitAsync(TimeSpan.FromSeconds(20)));
                Assert.Contains("cannot make a CloudEvent", error.Message);
                Assert.Equal([1, 2], receiver.Accepted.Select(e => RowId(e)!.Value));
                await harness.Listener.DisposeAsync();
                Assert.Equal(3L, await harness.JournalRowsAsync());
            }
            else
            {
                Assert.True(await ListenerHarness.EventuallyAsync(() => harness.Statistics.Finished == 5, TimeSpan.FromSeconds(20)));
                Assert.Equal([1, 2, 4, 5], receiver.Accepted.Select(e => RowId(e)!.Value));
                Assert.Contains("cannot make a CloudEvent", Assert.Single(harness.ReportsOf(ListenerReportKind.Skipped)).Message);
                Assert.True(await ListenerHarness.EventuallyAsync(() => harness.JournalRowsAsync().Result == 0, TimeSpan.FromSeconds(10)));
            }
        }
    }

    [Fact]
    public async Task AChangeThatCannotBecomeAnEventGoesToTheDeadLetterSinkAsAFallbackEvent()
    {
        await using var receiver = await CloudEventReceiver.StartAsync();
        await using var letters = await CloudEventReceiver.StartAsync();
        await using var harness = await ListenerHarness.StartAsync(database, _ => new HttpEventSink(receiver.Url), Fast(),
            deadLetter: new HttpEventSink(letters.Url), mode: CaptureMode.Durable, wrapCapture: capture => new UnbuildableThirdChange(capture));
        await InsertOneByOneAsync(harness, 5);

        Assert.True(await ListenerHarness.EventuallyAsync(() => harness.Statistics.Finished == 5, TimeSpan.FromSeconds(20)));
        Assert.Equal([1, 2, 4, 5], receiver.Accepted.Select(e => RowId(e)!.Value));
        var letter = Assert.Single(letters.Accepted);
        Assert.Contains("cannot make a CloudEvent", (string)letter["pgerror"]!);
        Assert.Contains("no payload", (string)letter["pgerror"]!);
        Assert.Equal("public.orders", letter.Subject);
        Assert.DoesNotContain(letter.Id, receiver.Accepted.Select(e => e.Id));
        Assert.Single(harness.ReportsOf(ListenerReportKind.DeadLettered));
        Assert.True(await ListenerHarness.EventuallyAsync(() => harness.JournalRowsAsync().Result == 0, TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task AReachedRetryLimitStopsWithTheChangeKept()
    {
        await using var receiver = await CloudEventReceiver.StartAsync(_ => 503);
        await using var harness = await ListenerHarness.StartAsync(database, _ => new HttpEventSink(receiver.Url),
            Fast() with { MaxRetryTime = TimeSpan.FromSeconds(1) }, mode: CaptureMode.Durable);
        await InsertOneByOneAsync(harness, 2);

        var error = await Assert.ThrowsAsync<UndeliverableChangeException>(() => harness.Run.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("retry limit (1 s of retrying)", error.Message);
        Assert.Equal(503, error.StatusCode);
        await harness.Listener.DisposeAsync();
        Assert.Equal(2L, await harness.JournalRowsAsync());
    }

    [Theory]
    [InlineData(DeliveryOrder.Key)]
    [InlineData(DeliveryOrder.Unordered)]
    public async Task ParallelOrdersDeliverEverythingAndKeyOrderKeepsEachRowsChangesInOrder(DeliveryOrder order)
    {
        var seen = new ConcurrentQueue<(int Id, int Version)>();
        var inFlight = 0;
        var maxInFlight = 0;
        var sink = new CallbackSink(async (record, token) =>
        {
            var now = Interlocked.Increment(ref inFlight);
            int max;
            while (now > (max = Volatile.Read(ref maxInFlight)) && Interlocked.CompareExchange(ref maxInFlight, now, max) != max)
            {
            }
            await Task.Delay(Random.Shared.Next(0, 8), token);
            using var document = JsonDocument.Parse(record.DataJson!);
            var data = document.RootElement.GetProperty("data");
            seen.Enqueue((data.GetProperty("id").GetInt32(), data.GetProperty("qty").GetInt32()));
            Interlocked.Decrement(ref inFlight);
        });
        await using var harness = await ListenerHarness.StartAsync(database, _ => sink, Fast(), mode: CaptureMode.Durable,
            optionsFor: source => new ListenerOptions
            {
                Ordering = order,
                MaxConcurrentDeliveries = 8,
                RowKeys = order == DeliveryOrder.Key ? RowKeyIndex.LoadAsync(source.Connection!, source, CancellationToken.None).Result : null,
            });
        // 20 rows, each updated 10 times: qty counts the versions.
        await TestSql.ExecuteAsync(harness.ConnectionString, "INSERT INTO orders SELECT g, 'x', 0 FROM generate_series(1, 20) g");
        for (var version = 1; version <= 10; version++)
        {
            await TestSql.ExecuteAsync(harness.ConnectionString, $"UPDATE orders SET qty = {version}");
        }

        Assert.True(await ListenerHarness.EventuallyAsync(() => seen.Count == 220, TimeSpan.FromSeconds(30)), $"{seen.Count} of 220");
        Assert.True(maxInFlight > 1, $"at most {maxInFlight} in flight");
        var outOfOrder = seen.GroupBy(s => s.Id).Count(g => !g.Select(s => s.Version).SequenceEqual(Enumerable.Range(0, 11)));
        if (order == DeliveryOrder.Key)
        {
            Assert.Equal(0, outOfOrder);
        }
        Assert.True(await ListenerHarness.EventuallyAsync(() => harness.JournalRowsAsync().Result == 0, TimeSpan.FromSeconds(10)));
        output.WriteLine($"{order}: max in flight {maxInFlight}, rows with changes out of order {outOfOrder}");
    }

    /// <summary>Takes the third change's payload away: no valid application/json event can be made of it.</summary>
    private sealed class UnbuildableThirdChange(IChangeCapture inner) : IChangeCapture
    {
        private int _count;

        public CaptureMode Mode => inner.Mode;
        public bool IsReady => inner.IsReady;

        public event Action<CaptureNotice>? Notice
        {
            add => inner.Notice += value;
            remove => inner.Notice -= value;
        }

        public async IAsyncEnumerable<CapturedChange> ReadAllAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await foreach (var change in inner.ReadAllAsync(cancellationToken))
            {
                yield return ++_count != 3 ? change : change with { PayloadJson = string.Empty };
            }
        }

        public ValueTask AcknowledgeAsync(CapturedChange change, CancellationToken cancellationToken) => inner.AcknowledgeAsync(change, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
