using System.Collections.Concurrent;
using System.Text.Json;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Tests.Capture;

/// <summary>Helpers shared by the capture tests: sources with unique names, install, and a consumer that records what it read.</summary>
internal static class CaptureHarness
{
    public static SourceDefinition Source(CaptureMode mode, params string[] tables) =>
        new SourceDefinition
        {
            Name = "src" + Guid.NewGuid().ToString("N")[..8],
            Uid = Guid.NewGuid().ToString(),
            Mode = mode,
            Tables = tables.Select(TableName.Parse).ToList(),
        }.Validate();

    public static async Task<IReadOnlyList<SchemaChange>> InstallAsync(SourceDefinition source, string connectionString, InstallOptions? options = null)
    {
        await using var session = await SourceSchema.PlanInstallAsync(source, ConnectionSettings.Parse(connectionString), options);
        await session.ApplyAsync();
        return session.Changes;
    }

    public static async Task<IReadOnlyList<SchemaChange>> UninstallAsync(SourceDefinition source, string connectionString)
    {
        await using var session = await SourceSchema.PlanUninstallAsync(source, ConnectionSettings.Parse(connectionString));
        await session.ApplyAsync();
        return session.Changes;
    }

    /// <summary>Waits (up to 10 s) until the capture is connected and capturing, so changes made next are seen.</summary>
    public static async Task WaitUntilReadyAsync(IChangeCapture capture)
    {
        for (var i = 0; i < 100 && !capture.IsReady; i++)
        {
            await Task.Delay(100);
        }
        Assert.True(capture.IsReady, "the capture did not become ready within 10 s");
    }

    public static JsonElement Payload(CapturedChange change) => JsonDocument.Parse(change.PayloadJson).RootElement.Clone();

    /// <summary>Every change that comes, in one read: until none has come for two seconds after <paramref name="expected"/> did.</summary>
    public static async Task<List<CapturedChange>> TakeAllAsync(IChangeCapture capture, int expected)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var list = new List<CapturedChange>();
        try
        {
            await foreach (var change in capture.ReadAllAsync(cts.Token))
            {
                list.Add(change);
                await capture.AcknowledgeAsync(change, cts.Token);
                if (list.Count >= expected)
                {
                    cts.CancelAfter(TimeSpan.FromSeconds(2));
                }
            }
        }
        catch (OperationCanceledException) when (list.Count >= expected)
        {
            // Quiet for two seconds: all that was coming came.
        }
        return list;
    }

    /// <summary>Reads until <paramref name="count"/> changes arrived (acknowledging each), or fails after the timeout.</summary>
    public static async Task<List<CapturedChange>> TakeAsync(IChangeCapture capture, int count, TimeSpan? timeout = null, bool acknowledge = true)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        var list = new List<CapturedChange>();
        if (count == 0)
        {
            return list;
        }
        await foreach (var change in capture.ReadAllAsync(cts.Token))
        {
            list.Add(change);
            if (acknowledge)
            {
                await capture.AcknowledgeAsync(change, cts.Token);
            }
            if (list.Count >= count)
            {
                break;
            }
        }
        return list;
    }
}

/// <summary>
/// A consumer as the listener will be: reads in a loop, "delivers" (records) and acknowledges every few
/// changes. Can be crashed: stops without acknowledging what it holds.
/// </summary>
internal sealed class RecordingConsumer
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly int _ackEvery;

    public RecordingConsumer(IChangeCapture capture, ConcurrentDictionary<string, int> seen, ConcurrentQueue<CapturedChange>? log = null, int ackEvery = 25)
    {
        Capture = capture;
        _ackEvery = ackEvery;
        _loop = Task.Run(async () =>
        {
            var sinceAck = 0;
            try
            {
                await using var enumerator = capture.ReadAllAsync(_stop.Token).GetAsyncEnumerator(_stop.Token);
                while (true)
                {
                    var next = enumerator.MoveNextAsync().AsTask();
                    // Acknowledge what is held when the capture has nothing more right now.
                    if (!next.IsCompleted && sinceAck > 0 && Last is { } pending && AckWhenIdle)
                    {
                        await capture.AcknowledgeAsync(pending, _stop.Token);
                        sinceAck = 0;
                    }
                    if (!await next)
                    {
                        break;
                    }
                    var change = enumerator.Current;
                    seen.AddOrUpdate(change.Id!, 1, (_, n) => n + 1);
                    log?.Enqueue(change);
                    Last = change;
                    Interlocked.Increment(ref _count);
                    if (++sinceAck >= _ackEvery)
                    {
                        await capture.AcknowledgeAsync(change, _stop.Token);
                        sinceAck = 0;
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (Exception ex)
            {
                Error = ex;
            }
        });
    }

    private long _count;

    public IChangeCapture Capture { get; }
    public CapturedChange? Last { get; private set; }
    public long Count => Interlocked.Read(ref _count);
    public Exception? Error { get; private set; }
    public bool Stopped => _loop.IsCompleted;

    /// <summary>Acknowledge what is held whenever the capture has nothing more at once (else only every few changes).</summary>
    public bool AckWhenIdle { get; set; } = true;

    /// <summary>Stops reading at once, without acknowledging what was read since the last acknowledgement, and drops the capture.</summary>
    public async Task CrashAsync()
    {
        _stop.Cancel();
        await _loop;
        await Capture.DisposeAsync();
    }
}
