using System.Collections.Concurrent;
using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Listening;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Tests.Listener;

/// <summary>
/// ListenerOptions.MaxConcurrentDeliveries > 1 against a real local HTTP receiver that answers each request
/// after a random delay, so responses come back out of order: the capture must still be acknowledged once
/// per change, in order, and never past a change the sink has not answered.
/// </summary>
public sealed class ConcurrentDeliveryTests
{
    private static readonly SourceDefinition Source = new SourceDefinition { Name = "conc", Tables = [TableName.Parse("public.orders")] }.Validate();

    [Theory]
    [InlineData(4)]
    [InlineData(16)]
    public async Task EveryChangeIsAcknowledgedOnceInOrderAndOnlyAfterEveryEarlierChangeWasAnswered(int inFlight)
    {
        const int count = 400;
        await using var receiver = await DelayingReceiver.StartAsync(_ => TimeSpan.FromMilliseconds(Random.Shared.Next(0, 12)));
        var capture = new ScriptedCapture(count, receiver);
        await using var listener = new SourceListener(Source, capture, new EventDeliverer(new HttpEventSink(receiver.Url)),
            new ListenerOptions { MaxConcurrentDeliveries = inFlight, QueueCapacity = 64, MaxEvents = count });

        await listener.RunAsync(new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token);

        Assert.Equal(Enumerable.Range(0, count).Select(i => (long)i), capture.Acknowledged);
        Assert.Empty(capture.Violations);
        Assert.Equal(count, receiver.Answered.Count);
        Assert.Equal(count, listener.Statistics.Delivered);
        Assert.InRange(receiver.MaxOpen, 2, inFlight); // really concurrent, and never more than allowed
        Assert.True(receiver.AnsweredOutOfOrder, "random delays should have reordered some answers");
    }

    [Fact]
    public async Task AChangeTheSinkNeverAnswersStopsAcknowledgementsAtTheChangeBeforeIt()
    {
        const int count = 200, stuck = 50;
        await using var receiver = await DelayingReceiver.StartAsync(id => id == stuck ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(Random.Shared.Next(0, 5)));
        var capture = new ScriptedCapture(count, receiver);
        await using var listener = new SourceListener(Source, capture, new EventDeliverer(new HttpEventSink(receiver.Url)),
            new ListenerOptions { MaxConcurrentDeliveries = 8, QueueCapacity = 64, DrainTimeout = TimeSpan.FromMilliseconds(300) });
        var reports = new ConcurrentQueue<ListenerReport>();
        listener.Reported += reports.Enqueue;
        using var stop = new CancellationTokenSource();
        var run = listener.RunAsync(stop.Token);

        // Deliveries after the stuck one go on (up to the queue's capacity), but none of them may be acknowledged.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (receiver.Answered.Count(id => id > stuck) < 20 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        Assert.True(receiver.Answered.Count(id => id > stuck) >= 20, "later changes should be delivered while one is stuck");
        stop.Cancel();
        await run;

        Assert.Equal(Enumerable.Range(0, stuck).Select(i => (long)i), capture.Acknowledged);
        Assert.Empty(capture.Violations);
        Assert.Contains(reports, r => r.Kind == ListenerReportKind.Undelivered && r.Event?.Id == $"c{stuck}");
    }

    /// <summary>A test capture's own position: the change's number.</summary>
    private sealed record Numbered(long Number) : CapturePosition;

    /// <summary>Yields changes 0..count-1 (Position = number, Id = "c" + number), then waits; records acknowledgements.</summary>
    private sealed class ScriptedCapture(int count, DelayingReceiver receiver) : IChangeCapture
    {
        private readonly object _gate = new();
        public List<long> Acknowledged { get; } = [];
        public List<string> Violations { get; } = [];
        public CaptureMode Mode => CaptureMode.Durable;
        public bool IsReady => true;
        public event Action<CaptureNotice>? Notice { add { } remove { } }

        public async IAsyncEnumerable<CapturedChange> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            for (long i = 0; i < count; i++)
            {
                yield return new CapturedChange
                {
                    Schema = "public",
                    Table = "orders",
                    Operation = ChangeOperation.Insert,
                    PayloadJson = "{\"table\":\"orders\",\"schema\":\"public\",\"action\":\"INSERT\",\"data\":{\"id\":" + i + ",\"item\":\"x\"}}",
                    Id = $"c{i}",
                    Position = new Numbered(i),
                };
            }
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        public ValueTask AcknowledgeAsync(CapturedChange change, CancellationToken cancellationToken)
        {
            var position = ((Numbered)change.Position!).Number;
            lock (_gate)
            {
                var expected = Acknowledged.Count == 0 ? 0 : Acknowledged[^1] + 1;
                if (position != expected)
                {
                    Violations.Add($"acknowledged {position} after {expected - 1}");
                }
                for (long k = 0; k <= position; k++)
                {
                    if (!receiver.Answered.Contains(k))
                    {
                        Violations.Add($"acknowledged {position} before change {k} was answered by the sink");
                        break;
                    }
                }
                Acknowledged.Add(position);
            }
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>Kestrel on loopback; answers 202 after delayFor(change number) (infinite: never answers).</summary>
    private sealed class DelayingReceiver : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly Func<long, TimeSpan> _delayFor;
        private readonly ConcurrentDictionary<long, bool> _answered = new();
        private readonly CancellationTokenSource _stopping = new();
        private int _open;
        private int _maxOpen;
        private long _lastAnswered = -1;
        private volatile bool _outOfOrder;

        private DelayingReceiver(WebApplication app, Func<long, TimeSpan> delayFor)
        {
            _app = app;
            _delayFor = delayFor;
        }

        public Uri Url { get; private set; } = null!;
        public ICollection<long> Answered => _answered.Keys;
        public int MaxOpen => Volatile.Read(ref _maxOpen);
        public bool AnsweredOutOfOrder => _outOfOrder;

        public static async Task<DelayingReceiver> StartAsync(Func<long, TimeSpan> delayFor)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
            var app = builder.Build();
            var receiver = new DelayingReceiver(app, delayFor);
            app.Run(receiver.HandleAsync);
            await app.StartAsync();
            receiver.Url = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");
            return receiver;
        }

        private async Task HandleAsync(HttpContext context)
        {
            var open = Interlocked.Increment(ref _open);
            int seen;
            while (open > (seen = Volatile.Read(ref _maxOpen)) && Interlocked.CompareExchange(ref _maxOpen, open, seen) != seen)
            {
            }
            try
            {
                var number = long.Parse(context.Request.Headers["ce-id"].ToString().AsSpan(1));
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
                try
                {
                    await Task.Delay(_delayFor(number), linked.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                // Recorded before the response is written: the listener cannot see the answer earlier.
                _answered[number] = true;
                if (number < Interlocked.Exchange(ref _lastAnswered, number))
                {
                    _outOfOrder = true;
                }
                context.Response.StatusCode = 202;
            }
            finally
            {
                Interlocked.Decrement(ref _open);
            }
        }

        public async ValueTask DisposeAsync()
        {
            _stopping.Cancel();
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
