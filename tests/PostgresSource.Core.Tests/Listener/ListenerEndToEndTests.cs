using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Npgsql;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Events;
using PostgresSource.Core.Listening;
using PostgresSource.TestReceivers;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Core.Tests.Listener;

/// <summary>Real PostgreSQL, Notify capture, the listener, a real local HTTP receiver.</summary>
[Collection(DatabaseCollection.Name)]
public sealed class ListenerEndToEndTests(DatabaseFixture database, ITestOutputHelper output)
{
    private static RetryPolicy Fast(int attempts = 12) =>
        new() { MaxAttempts = attempts, InitialDelay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromMilliseconds(400) };

    [Fact]
    public async Task ThousandInsertsThenUpdatesAndDeletesArriveAsExactlyTheExpectedEventsInCommitOrder()
    {
        await using var receiver = await CloudEventReceiver.StartAsync();
        await using var harness = await ListenerHarness.StartAsync(database, _ => new HttpEventSink(receiver.Url));
        var started = DateTimeOffset.UtcNow;
        var expected = new List<(string Action, int Id, int? Qty, string? Item)>();

        var clock = Stopwatch.StartNew();
        await using (var connection = new NpgsqlConnection(harness.ConnectionString))
        {
            await connection.OpenAsync();
            for (var i = 1; i <= 1000; i++)
            {
                await using var insert = new NpgsqlCommand("INSERT INTO orders (id, item, qty) VALUES (@id, @item, @qty)", connection);
                insert.Parameters.AddWithValue("id", i);
                insert.Parameters.AddWithValue("item", $"item \"{i}\" ✓");
                insert.Parameters.AddWithValue("qty", i);
                await insert.ExecuteNonQueryAsync();
                expected.Add(("INSERT", i, i, $"item \"{i}\" ✓"));
            }
            // One transaction of updates and one of deletes: notifications keep statement order within a transaction.
            await using (var transaction = await connection.BeginTransactionAsync())
            {
                for (var i = 1; i <= 100; i++)
                {
                    await using var update = new NpgsqlCommand("UPDATE orders SET qty = @qty WHERE id = @id", connection, transaction);
                    update.Parameters.AddWithValue("id", i);
                    update.Parameters.AddWithValue("qty", i * 2);
                    await update.ExecuteNonQueryAsync();
                    expected.Add(("UPDATE", i, i * 2, $"item \"{i}\" ✓"));
                }
                await transaction.CommitAsync();
            }
            await using (var transaction = await connection.BeginTransactionAsync())
            {
                for (var i = 901; i <= 950; i++)
                {
                    await using var delete = new NpgsqlCommand("DELETE FROM orders WHERE id = @id", connection, transaction);
                    delete.Parameters.AddWithValue("id", i);
                    await delete.ExecuteNonQueryAsync();
                    expected.Add(("DELETE", i, i, $"item \"{i}\" ✓"));
                }
                await transaction.CommitAsync();
            }
        }
        var written = clock.Elapsed;

        Assert.True(await ListenerHarness.EventuallyAsync(() => harness.Statistics.Delivered >= expected.Count, TimeSpan.FromSeconds(90)),
            $"delivered {harness.Statistics.Delivered} of {expected.Count}");
        var delivered = clock.Elapsed;
        await Task.Delay(300);
        var requests = receiver.Requests;
        Assert.Equal(expected.Count, requests.Count);
        Assert.Equal(expected.Count, requests.Select(r => r.Event!.Id).Distinct().Count());
        var ended = DateTimeOffset.UtcNow;
        for (var i = 0; i < expected.Count; i++)
        {
            var (action, id, qty, item) = expected[i];
            var request = requests[i];
            Assert.Null(request.DecodeError);
            var e = request.Event!;
            Assert.True(Guid.TryParse(e.Id, out _));
            Assert.Equal("default/shop", e.Source!.OriginalString);
            Assert.Equal("dev.vaikas.postgres", e.Type);
            Assert.Equal("public.orders", e.Subject);
            Assert.Equal("application/json", e.DataContentType);
            Assert.InRange(e.Time!.Value, started.AddSeconds(-1), ended);
            Assert.Equal("orders", e["pgtable"]);
            Assert.Equal("public", e["pgschema"]);
            Assert.Equal(action, e["pgoperation"]);
            var payload = JsonDocument.Parse(request.Body).RootElement;
            Assert.Equal("orders", payload.GetProperty("table").GetString());
            Assert.Equal("public", payload.GetProperty("schema").GetString());
            Assert.Equal(action, payload.GetProperty("action").GetString());
            var row = payload.GetProperty("data");
            Assert.Equal(id, row.GetProperty("id").GetInt32());
            Assert.Equal(qty, row.GetProperty("qty").GetInt32());
            Assert.Equal(item, row.GetProperty("item").GetString());
        }
        var statistics = harness.Statistics;
        Assert.Equal(expected.Count, statistics.Received);
        Assert.Equal(expected.Count, statistics.Delivered);
        Assert.Equal(0, statistics.Failed + statistics.DeadLettered + statistics.Retried);
        Assert.InRange(statistics.MaxBuffered, 1, ListenerOptions.Default.QueueCapacity);
        Assert.Equal(expected.Count, statistics.DeliveryLatency.Snapshot().Count);
        Assert.Empty(harness.Reports);
        output.WriteLine($"{expected.Count} changes written in {written.TotalMilliseconds:0} ms, all delivered after {delivered.TotalMilliseconds:0} ms; " +
            $"latency sum {statistics.DeliveryLatency.Snapshot().SumSeconds:0.000} s; max buffered {statistics.MaxBuffered}; connections {requests.Select(r => r.ConnectionId).Distinct().Count()}");
    }

    [Fact]
    public async Task AReceiverAnswering503ForAWhileThen200LosesNothing()
    {
        var outage = Stopwatch.StartNew();
        await using var receiver = await CloudEventReceiver.StartAsync(n => n <= 3 || outage.Elapsed < TimeSpan.FromSeconds(1.5) ? 503 : 200);
        await using var harness = await ListenerHarness.StartAsync(database, _ => new HttpEventSink(receiver.Url), Fast());
        outage.Restart();
        await TestSql.ExecuteAsync(harness.ConnectionString, "INSERT INTO orders SELECT g, 'x', g FROM generate_series(1, 30) g");

        Assert.True(await ListenerHarness.EventuallyAsync(() => harness.Statistics.Delivered == 30, TimeSpan.FromSeconds(30)));
        var accepted = receiver.Accepted;
        Assert.Equal(Enumerable.Range(1, 30), accepted.Select(e => JsonDocument.Parse(((System.Text.Json.JsonElement)e.Data!).GetRawText()).RootElement.GetProperty("data").GetProperty("id").GetInt32()));
        Assert.True(harness.Statistics.Retried > 0);
        Assert.Equal(0, harness.Statistics.Failed);
        Assert.Contains("503", harness.Statistics.LastError);
        Assert.Empty(harness.ReportsOf(ListenerReportKind.DeliveryFailed));
        output.WriteLine($"retries during the outage: {harness.Statistics.Retried}; requests refused: {receiver.Requests.Count(r => r.Status == 503)}");
    }

    [Fact]
    public async Task A400GoesToTheDeadLetterSinkAndIsReported()
    {
        await using var receiver = await CloudEventReceiver.StartAsync(n => n == 3 ? 400 : 200);
        await using var deadLetters = await CloudEventReceiver.StartAsync();
        await using var harness = await ListenerHarness.StartAsync(database, _ => new HttpEventSink(receiver.Url), Fast(),
            new HttpEventSink(deadLetters.Url));
        await TestSql.ExecuteAsync(harness.ConnectionString, "INSERT INTO orders SELECT g, 'x', g FROM generate_series(1, 5) g");

        Assert.True(await ListenerHarness.EventuallyAsync(() => harness.Statistics.Finished == 5, TimeSpan.FromSeconds(20)));
        Assert.Equal(5, receiver.Requests.Count);
        Assert.Equal([1, 2, 4, 5], receiver.Accepted.Select(RowId));
        var letter = Assert.Single(deadLetters.Accepted);
        Assert.Equal(3, RowId(letter));
        Assert.Equal("400", letter["knativeerrorcode"]);
        Assert.Equal(receiver.Url.ToString(), letter["knativeerrordest"]);
        Assert.Equal(4, harness.Statistics.Delivered);
        Assert.Equal(1, harness.Statistics.DeadLettered);
        Assert.Equal(0, harness.Statistics.Retried);
        var report = Assert.Single(harness.ReportsOf(ListenerReportKind.DeadLettered));
        Assert.Equal(letter.Id, report.Event!.Id);
        Assert.Equal(400, report.StatusCode);
    }

    [Fact]
    public async Task AnEventNobodyTakesStopsTheListenerWithAnErrorNamingIt()
    {
        await using var receiver = await CloudEventReceiver.StartAsync(_ => 500);
        await using var harness = await ListenerHarness.StartAsync(database, _ => new HttpEventSink(receiver.Url), Fast(3));
        await TestSql.ExecuteAsync(harness.ConnectionString, "INSERT INTO orders VALUES (1, 'x', 1)");

        var error = await Assert.ThrowsAsync<UndeliverableChangeException>(() => harness.Run.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(receiver.Requests[0].Event!.Id, error.Event!.Id);
        Assert.Equal(500, error.StatusCode);
        Assert.Contains(error.Event.Id, error.Message);
        Assert.Contains("retry limit (3 attempt(s))", error.Message);
        Assert.Equal(3, receiver.Requests.Count);
        Assert.Equal(1, harness.Statistics.Failed);
        Assert.Empty(harness.ReportsOf(ListenerReportKind.Skipped));
    }

    [Fact]
    public async Task AnEventNobodyTakesIsReportedWithItsIdWhenSkippingIsChosen()
    {
        await using var receiver = await CloudEventReceiver.StartAsync(n => n <= 3 ? 500 : 202);
        await using var harness = await ListenerHarness.StartAsync(database, _ => new HttpEventSink(receiver.Url), Fast(3),
            options: new ListenerOptions { OnUndeliverable = UndeliverableAction.Skip });
        await TestSql.ExecuteAsync(harness.ConnectionString, "INSERT INTO orders VALUES (1, 'x', 1)");
        await TestSql.ExecuteAsync(harness.ConnectionString, "INSERT INTO orders VALUES (2, 'y', 1)");

        Assert.True(await ListenerHarness.EventuallyAsync(() => harness.Statistics.Delivered == 1, TimeSpan.FromSeconds(20)));
        var report = Assert.Single(harness.ReportsOf(ListenerReportKind.Skipped));
        Assert.Equal(receiver.Requests[0].Event!.Id, report.Event!.Id);
        Assert.Equal(500, report.StatusCode);
        Assert.Equal(3, report.Attempts);
        Assert.Contains(report.Event.Id, report.Message);
        Assert.Equal(1, harness.Statistics.Skipped);
        Assert.False(harness.Run.IsCompleted);
    }

    [Fact]
    public async Task ASinkThatNeverAnswersCannotMakeTheListenerHoldMoreThanTheQueueCapacity()
    {
        const int capacity = 10;
        await using var receiver = await CloudEventReceiver.StartAsync(_ => CloudEventReceiver.NeverAnswer);
        await using var harness = await ListenerHarness.StartAsync(database,
            _ => new HttpEventSink(receiver.Url, new HttpSinkOptions { RequestTimeout = TimeSpan.FromMinutes(10) }),
            options: new ListenerOptions { QueueCapacity = capacity, DrainTimeout = TimeSpan.FromMilliseconds(200) });

        await TestSql.ExecuteAsync(harness.ConnectionString, "INSERT INTO orders SELECT g, repeat('x', 500), g FROM generate_series(1, 2000) g");
        Assert.True(await ListenerHarness.EventuallyAsync(() => harness.Statistics.Received == capacity && receiver.OpenRequests == 1, TimeSpan.FromSeconds(10)));
        GC.Collect();
        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        await TestSql.ExecuteAsync(harness.ConnectionString, "INSERT INTO orders SELECT g, repeat('y', 500), g FROM generate_series(2001, 4000) g");
        await Task.Delay(1500);
        var memoryAfter = GC.GetTotalMemory(forceFullCollection: true);

        Assert.Equal(capacity, harness.Statistics.Received);
        Assert.Equal(capacity, harness.Statistics.Buffered);
        Assert.Equal(capacity, harness.Statistics.MaxBuffered);
        Assert.Equal(1, receiver.OpenRequests);
        Assert.Equal(1, receiver.MaxOpenRequests);
        Assert.Equal(0, harness.Statistics.Finished);
        output.WriteLine($"4000 changes committed; listener holds {harness.Statistics.Buffered}; managed heap {memoryBefore / 1024} KiB -> {memoryAfter / 1024} KiB");

        // Stopping reports what was held, undelivered and unacknowledged, instead of dropping it silently.
        var stopping = Stopwatch.StartNew();
        await harness.StopAsync();
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(3), $"stop took {stopping.Elapsed}");
        Assert.Equal(capacity, harness.ReportsOf(ListenerReportKind.Undelivered).Count);
        Assert.Equal(capacity, harness.Statistics.Undelivered);
        Assert.Equal(0, harness.Statistics.Failed);
        Assert.Equal(0, harness.Statistics.Buffered);
    }

    [Fact]
    public async Task MaxEventsEndsTheRunAndACallbackSinkGetsPlainRecords()
    {
        var records = new List<EventRecord>();
        await using var harness = await ListenerHarness.StartAsync(database,
            _ => new CallbackSink((record, _) => { lock (records) records.Add(record); return ValueTask.CompletedTask; }),
            options: new ListenerOptions { MaxEvents = 3 });
        await TestSql.ExecuteAsync(harness.ConnectionString, "INSERT INTO orders SELECT g, 'x', g FROM generate_series(1, 5) g");

        await harness.Run.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3, records.Count);
        Assert.Equal(3, harness.Statistics.Received);
        Assert.Equal(["INSERT", "INSERT", "INSERT"], records.Select(r => r.Operation));
        Assert.Equal([1, 2, 3], records.Select(r => JsonDocument.Parse(r.DataJson!).RootElement.GetProperty("data").GetProperty("id").GetInt32()));
    }

    [Fact]
    public async Task RowsTooBigForNotifyArriveTruncatedWithTheirKey()
    {
        await using var receiver = await CloudEventReceiver.StartAsync();
        await using var harness = await ListenerHarness.StartAsync(database, _ => new HttpEventSink(receiver.Url));
        await TestSql.ExecuteAsync(harness.ConnectionString, "INSERT INTO orders VALUES (42, repeat('z', 9000), 1)");

        Assert.True(await ListenerHarness.EventuallyAsync(() => harness.Statistics.Delivered == 1, TimeSpan.FromSeconds(10)));
        var request = Assert.Single(receiver.Requests);
        Assert.Equal("true", request.Headers["ce-pgtruncated"]);
        var payload = JsonDocument.Parse(request.Body).RootElement;
        Assert.True(payload.GetProperty("truncated").GetBoolean());
        Assert.Equal(42, payload.GetProperty("data").GetProperty("id").GetInt32());
        Assert.False(payload.GetProperty("data").TryGetProperty("item", out _));
    }

    [Fact]
    public async Task ReconnectsAfterTheServerRestartsAndWarnsThatChangesMayHaveBeenMissed()
    {
        var local = database.Server.Local;
        if (local is null)
        {
            output.WriteLine("The server is not one this test run started; it cannot be restarted here.");
            return;
        }
        var records = new List<EventRecord>();
        await using var harness = await ListenerHarness.StartAsync(database,
            _ => new CallbackSink((record, _) => { lock (records) records.Add(record); return ValueTask.CompletedTask; }));
        await TestSql.ExecuteAsync(harness.ConnectionString, "INSERT INTO orders VALUES (1, 'before', 1)");
        Assert.True(await ListenerHarness.EventuallyAsync(() => records.Count == 1, TimeSpan.FromSeconds(10)));

        await local.RestartAsync();
        Assert.True(await ListenerHarness.EventuallyAsync(
            () => harness.ReportsOf(ListenerReportKind.CaptureNotice).Any(r => r.PossibleLoss && r.Message.Contains("Reconnected")) && harness.Listener.IsReady,
            TimeSpan.FromSeconds(60)), string.Join("\n", harness.Reports.Select(r => r.Message)));
        await TestSql.ExecuteAsync(harness.ConnectionString, "INSERT INTO orders VALUES (2, 'after', 2)");
        Assert.True(await ListenerHarness.EventuallyAsync(() => records.Count == 2, TimeSpan.FromSeconds(10)));
        Assert.Contains("after", records[1].DataJson);
        Assert.False(harness.Run.IsCompleted);
        Assert.Contains(harness.ReportsOf(ListenerReportKind.CaptureNotice), r => r.Message.Contains("Lost the database connection"));
    }

    private static int RowId(CloudNative.CloudEvents.CloudEvent e) =>
        ((JsonElement)e.Data!).GetProperty("data").GetProperty("id").GetInt32();
}
