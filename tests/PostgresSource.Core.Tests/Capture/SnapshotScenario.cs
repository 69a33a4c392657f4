using System.Collections.Concurrent;
using System.Text.Json;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Capture.Snapshots;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Core.Tests.Capture;

/// <summary>
/// A 50,000-row table snapshot, interrupted after 25,000 acknowledged Reads and resumed, with changes made
/// during the first attempt and during the interruption. Expected: every row read exactly once, each
/// change either reflected in a row's Read or delivered as an event, never both (nothing doubled at the
/// seam) and never neither (nothing missed); the consumer's copy ends equal to the table.
/// </summary>
internal sealed class SnapshotScenario(ITestOutputHelper output)
{
    public const int Rows = 50_000;
    public const int Interrupt = 25_000;

    public static string Setup => $"""
        CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL);
        INSERT INTO items SELECT g, 'v0' FROM generate_series(1, {Rows}) g;
        ANALYZE items;
        """;

    public async Task RunAsync(string db, Func<IProgress<SnapshotProgress>, IChangeCapture> create)
    {
        var copy = new Dictionary<int, string>();
        var reads = new Dictionary<int, int>();
        var events = new List<(ChangeOperation Operation, int Id, string? V)>();
        var progress = new ConcurrentQueue<SnapshotProgress>();
        var reporter = new Progress(progress);

        void Apply(CapturedChange change)
        {
            var payload = JsonDocument.Parse(change.PayloadJson).RootElement;
            var data = payload.GetProperty("data");
            var id = data.GetProperty("id").GetInt32();
            var v = data.TryGetProperty("v", out var value) ? value.GetString() : null;
            switch (change.Operation)
            {
                case ChangeOperation.Read:
                    reads[id] = reads.GetValueOrDefault(id) + 1;
                    copy[id] = v!;
                    break;
                case ChangeOperation.Insert or ChangeOperation.Update:
                    events.Add((change.Operation, id, v));
                    copy[id] = v!;
                    break;
                case ChangeOperation.Delete:
                    events.Add((change.Operation, id, v));
                    copy.Remove(id);
                    break;
            }
        }

        // Attempt 1: read and acknowledge 25,000 rows; changes are made while it reads; then it stops.
        await using (var first = create(reporter))
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            var count = 0;
            await foreach (var change in first.ReadAllAsync(cts.Token))
            {
                Assert.Equal(ChangeOperation.Read, change.Operation);
                Apply(change);
                await first.AcknowledgeAsync(change, cts.Token);
                if (++count == 10_000)
                {
                    await TestSql.ExecuteAsync(db, """
                        UPDATE items SET v = 'during' WHERE id BETWEEN 5 AND 104;
                        UPDATE items SET v = 'during' WHERE id BETWEEN 40001 AND 40100;
                        INSERT INTO items SELECT g, 'new-during' FROM generate_series(60001, 60050) g;
                        DELETE FROM items WHERE id BETWEEN 45001 AND 45050;
                        """);
                }
                if (count == Interrupt)
                {
                    break;
                }
            }
        }
        output.WriteLine($"attempt 1 stopped after {reads.Count} rows; progress: {Describe(progress)}");

        // While no capture runs.
        await TestSql.ExecuteAsync(db, """
            UPDATE items SET v = 'gap' WHERE id BETWEEN 1000 AND 1099;
            UPDATE items SET v = 'gap' WHERE id BETWEEN 30001 AND 30100;
            INSERT INTO items SELECT g, 'new-gap' FROM generate_series(70001, 70050) g;
            DELETE FROM items WHERE id BETWEEN 35001 AND 35050;
            DELETE FROM items WHERE id BETWEEN 2001 AND 2050;
            """);

        // Attempt 2: resumes, finishes the snapshot, then streams.
        progress.Clear();
        await using (var second = create(reporter))
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            var afterDone = false;
            await using var enumerator = second.ReadAllAsync(cts.Token).GetAsyncEnumerator(cts.Token);
            var streamed = 0;
            Task<bool>? next = null;
            while (true)
            {
                next = enumerator.MoveNextAsync().AsTask();
                if (await Task.WhenAny(next, Task.Delay(3000)) != next)
                {
                    if (!afterDone)
                    {
                        // The snapshot is done and the stream is quiet: one change after the snapshot.
                        afterDone = true;
                        await TestSql.ExecuteAsync(db, "UPDATE items SET v = 'after' WHERE id BETWEEN 3 AND 12");
                        if (await Task.WhenAny(next, Task.Delay(10_000)) != next)
                        {
                            break;
                        }
                    }
                    else
                    {
                        break;
                    }
                }
                if (!await next)
                {
                    break;
                }
                var change = enumerator.Current;
                if (change.Operation != ChangeOperation.Read)
                {
                    streamed++;
                }
                else
                {
                    Assert.Equal(0, streamed); // every Read comes before the stream
                }
                Apply(change);
                await second.AcknowledgeAsync(change, cts.Token);
                next = null;
            }
            cts.Cancel();
            if (next is not null)
            {
                // Let the pending read end with the cancellation before the enumerator is disposed.
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => next);
            }
        }
        output.WriteLine($"attempt 2 progress: {Describe(progress)}");

        var table = await TableAsync(db);
        output.WriteLine($"rows read: {reads.Count} (read twice: {reads.Count(r => r.Value > 1)}); change events: {events.Count} " +
                         $"({string.Join(", ", events.GroupBy(e => e.Operation).Select(g => $"{g.Count()} {g.Key}"))}); table now {table.Count} rows");

        Assert.Empty(reads.Where(r => r.Value > 1));                            // every row read exactly once
        Assert.Equal(table.OrderBy(p => p.Key), copy.OrderBy(p => p.Key));      // nothing missed: the copy is the table

        // Changes to rows already read arrive as events; changes to rows not yet read are in their Read and not sent again.
        var updated = events.Where(e => e.Operation == ChangeOperation.Update).Select(e => e.Id).ToHashSet();
        var deleted = events.Where(e => e.Operation == ChangeOperation.Delete).Select(e => e.Id).ToHashSet();
        Assert.Equal(Range(5, 104).Concat(Range(1000, 1099)).Concat(Range(3, 12)).ToHashSet(), updated);
        Assert.Equal(Range(2001, 2050).ToHashSet(), deleted);
        Assert.Empty(events.Where(e => e.Operation == ChangeOperation.Insert));
        Assert.Equal(100 + 100 + 10 + 50, events.Count);
        Assert.All(Range(40001, 40100), id => Assert.Equal("during", copy[id]));
        Assert.All(Range(30001, 30100), id => Assert.Equal("gap", copy[id]));
        Assert.All(Range(60001, 60050).Concat(Range(70001, 70050)), id => Assert.Equal(1, reads[id]));
        Assert.DoesNotContain(45001, reads.Keys);
        Assert.DoesNotContain(35001, reads.Keys);
        Assert.Equal(Rows - 100 + 100, reads.Count); // 50,000 - 100 deleted before being read + 100 inserted before being read

        var last = progress.Last();
        Assert.True(last.TableDone);
        Assert.True(last.Resumed);
        Assert.Equal(2, last.Segment);
        Assert.Equal(reads.Count, last.RowsRead);
    }

    private static IEnumerable<int> Range(int from, int to) => Enumerable.Range(from, to - from + 1);

    private static string Describe(IEnumerable<SnapshotProgress> progress)
    {
        var list = progress.ToList();
        return list.Count == 0 ? "none" : $"{list.Count} reports, last: {list[^1]}";
    }

    private static async Task<Dictionary<int, string>> TableAsync(string db)
    {
        var table = new Dictionary<int, string>();
        await using var connection = new Npgsql.NpgsqlConnection(db);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT id, v FROM items", connection);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            table[reader.GetInt32(0)] = reader.GetString(1);
        }
        return table;
    }

    /// <summary>Records reports synchronously (System.Progress would post them to the thread pool, out of order).</summary>
    private sealed class Progress(ConcurrentQueue<SnapshotProgress> queue) : IProgress<SnapshotProgress>
    {
        public void Report(SnapshotProgress value) => queue.Enqueue(value);
    }
}
