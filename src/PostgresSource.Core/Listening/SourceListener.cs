using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using CloudNative.CloudEvents;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Events;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Listening;

/// <summary>
/// Drives one source: capture → CloudEvent → delivery, in order. A change is acknowledged to the
/// capture only after the sink (or the dead-letter sink) took its event, or after a failure was
/// reported. At most <see cref="ListenerOptions.QueueCapacity"/> events are held at once: when the
/// sink is slow the listener stops reading from the capture. Owns and disposes the capture and sinks.
/// </summary>
public sealed class SourceListener : IAsyncDisposable
{
    private readonly ChangeEventFactory _factory;
    private readonly ListenerOptions _options;
    private int _started;
    private volatile bool _running;

    public SourceListener(SourceDefinition source, IChangeCapture capture, EventDeliverer deliverer, ListenerOptions? options = null)
    {
        Source = source;
        Capture = capture;
        Deliverer = deliverer;
        _options = (options ?? ListenerOptions.Default).Validate();
        _factory = new ChangeEventFactory(source, _options.EventSource, _options.CeOverrides);
    }

    public SourceDefinition Source { get; }
    public IChangeCapture Capture { get; }
    public EventDeliverer Deliverer { get; }
    public ListenerStatistics Statistics { get; } = new();

    /// <summary>Running, connected and capturing (the adapter's readiness).</summary>
    public bool IsReady => _running && Capture.IsReady;

    /// <summary>Failures, dead letters and capture notices, raised from the listener's tasks.</summary>
    public event Action<ListenerReport>? Reported;

    /// <summary>
    /// Runs until cancelled, until <see cref="ListenerOptions.MaxEvents"/> events are finished, or until the
    /// capture fails for good (then rethrows its error after draining). On cancellation, queued events
    /// get <see cref="ListenerOptions.DrainTimeout"/> to be delivered; the rest are reported undelivered.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("A listener runs once.");
        }
        var queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var credits = new QueueCredits(_options.QueueCapacity);
        using var producing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var delivering = new CancellationTokenSource();
        Capture.Notice += OnNotice;
        _running = true;
        Exception? failure = null;
        var consumer = Task.Run(async () =>
        {
            try
            {
                await ConsumeAsync(queue.Reader, credits, delivering.Token, () => producing.Cancel()).ConfigureAwait(false);
            }
            catch
            {
                // The consumer cannot go on (an acknowledgement failed): stop reading too.
                producing.Cancel();
                throw;
            }
        }, CancellationToken.None);
        try
        {
            await ProduceAsync(queue.Writer, credits, producing.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (producing.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            failure = ex;
        }
        finally
        {
            queue.Writer.TryComplete();
            _running = false;
        }

        if (cancellationToken.IsCancellationRequested || failure is not null)
        {
            delivering.CancelAfter(_options.DrainTimeout);
        }
        try
        {
            await consumer.ConfigureAwait(false);
        }
        finally
        {
            Capture.Notice -= OnNotice;
        }
        if (failure is not null)
        {
            ExceptionDispatchInfo.Throw(failure);
        }
    }

    private async Task ProduceAsync(ChannelWriter<Pending> writer, QueueCredits credits, CancellationToken cancellationToken)
    {
        await using var changes = Capture.ReadAllAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
        long count = 0;
        while (_options.MaxEvents is not { } max || count < max)
        {
            // Take room in the queue before reading: a full queue leaves changes unread in the capture.
            await credits.TakeAsync(cancellationToken).ConfigureAwait(false);
            if (!await changes.MoveNextAsync().ConfigureAwait(false))
            {
                break;
            }
            var change = changes.Current;
            var started = Stopwatch.GetTimestamp();
            CloudEvent? cloudEvent = null;
            string? error = null;
            try
            {
                cloudEvent = _factory.Create(change, DateTimeOffset.UtcNow);
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or FormatException)
            {
                error = $"cannot make a CloudEvent of a change on {change.Schema}.{change.Table}: {ex.Message}";
            }
            Statistics.OnReceived();
            writer.TryWrite(new Pending(change, cloudEvent, started, error));
            count++;
        }
    }

    private Task ConsumeAsync(ChannelReader<Pending> reader, QueueCredits credits, CancellationToken stopDelivering, Action stopReading) =>
        _options.MaxConcurrentDeliveries == 1
            ? ConsumeOrderedAsync(reader, credits, stopDelivering)
            : ConsumeConcurrentAsync(reader, credits, stopDelivering, stopReading);

    /// <summary>One delivery in flight: deliver, acknowledge, next.</summary>
    private async Task ConsumeOrderedAsync(ChannelReader<Pending> reader, QueueCredits credits, CancellationToken stopDelivering)
    {
        await foreach (var item in reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            try
            {
                if (await ProcessAsync(item, stopDelivering).ConfigureAwait(false))
                {
                    // Acknowledge only now: the sink or the dead-letter sink has it, or its loss is reported.
                    await Capture.AcknowledgeAsync(item.Change, stopDelivering).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stopDelivering.IsCancellationRequested)
            {
                // Delivered (or reported) but the acknowledgement was cut short: an at-least-once mode will send it again.
            }
            finally
            {
                Statistics.OnFinished();
                credits.Return(moreQueued: reader.TryPeek(out _));
            }
        }
    }

    /// <summary>
    /// Up to <see cref="ListenerOptions.MaxConcurrentDeliveries"/> deliveries in flight; they may reach the
    /// sink out of order. Each change gets a sequence number in capture order; one acknowledger acknowledges
    /// change k only when every change up to k is finished (delivered, dead-lettered or reported failed), so
    /// the capture never advances past an undelivered change. Once a change is left undelivered (stopping),
    /// or an acknowledgement fails, nothing after it is acknowledged.
    /// </summary>
    private async Task ConsumeConcurrentAsync(ChannelReader<Pending> reader, QueueCredits credits, CancellationToken stopDelivering, Action stopReading)
    {
        using var halted = new CancellationTokenSource();
        using var stopOrHalted = CancellationTokenSource.CreateLinkedTokenSource(stopDelivering, halted.Token);
        using var slots = new SemaphoreSlim(_options.MaxConcurrentDeliveries, _options.MaxConcurrentDeliveries);
        var finished = Channel.CreateUnbounded<Finished>(new UnboundedChannelOptions { SingleReader = true });
        var acknowledger = Task.Run(async () =>
        {
            try
            {
                await AcknowledgeInOrderAsync(finished.Reader, credits, stopDelivering, () =>
                {
                    // Nothing after a failed change will be acknowledged: stop reading and delivering.
                    halted.Cancel();
                    stopReading();
                }).ConfigureAwait(false);
            }
            finally
            {
                halted.Cancel();
            }
        }, CancellationToken.None);
        long sequence = 0;
        try
        {
            await foreach (var item in reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                var number = sequence++;
                try
                {
                    halted.Token.ThrowIfCancellationRequested();
                    await slots.WaitAsync(stopOrHalted.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    ReportUndelivered(item);
                    finished.Writer.TryWrite(new Finished(number, item, false, null));
                    continue;
                }
                _ = DeliverOneAsync(number, item);
            }
            // Wait for the deliveries still in flight.
            for (var i = 0; i < _options.MaxConcurrentDeliveries; i++)
            {
                await slots.WaitAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        finally
        {
            finished.Writer.TryComplete();
        }
        await acknowledger.ConfigureAwait(false);

        async Task DeliverOneAsync(long number, Pending item)
        {
            var acknowledge = false;
            Exception? error = null;
            try
            {
                acknowledge = await ProcessAsync(item, stopDelivering).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // Like the ordered path, an unexpected error stops the listener; here once every change before it is finished.
                error = ex;
            }
            finally
            {
                finished.Writer.TryWrite(new Finished(number, item, acknowledge, error));
                slots.Release();
            }
        }
    }

    private async Task AcknowledgeInOrderAsync(ChannelReader<Finished> finished, QueueCredits credits, CancellationToken stopDelivering, Action halt)
    {
        var waiting = new Dictionary<long, Finished>();
        long next = 0;
        var acknowledging = true;
        Exception? failure = null;
        await foreach (var done in finished.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            waiting.Add(done.Sequence, done);
            while (waiting.Remove(next, out var head))
            {
                next++;
                try
                {
                    // An undelivered change stops all acknowledgements after it: they stay in the capture.
                    failure ??= head.Error;
                    acknowledging &= head.Acknowledge && failure is null;
                    if (acknowledging)
                    {
                        await Capture.AcknowledgeAsync(head.Item.Change, stopDelivering).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException) when (stopDelivering.IsCancellationRequested)
                {
                    acknowledging = false;
                }
                catch (Exception ex)
                {
                    acknowledging = false;
                    failure = ex;
                }
                finally
                {
                    if (failure is not null)
                    {
                        halt();
                    }
                    Statistics.OnFinished();
                    credits.Return(moreQueued: waiting.ContainsKey(next) || finished.TryPeek(out _));
                }
            }
        }
        if (failure is not null)
        {
            ExceptionDispatchInfo.Throw(failure);
        }
    }

    /// <summary>Delivers one change's event (or reports why not); true when the change may be acknowledged.</summary>
    private async Task<bool> ProcessAsync(Pending item, CancellationToken stopDelivering)
    {
        if (stopDelivering.IsCancellationRequested)
        {
            ReportUndelivered(item);
            return false;
        }
        if (item.Event is null)
        {
            Fail(item, new ListenerReport(ListenerReportKind.DeliveryFailed, item.Error!));
            return true;
        }

        DeliveryOutcome outcome;
        try
        {
            outcome = await Deliverer.DeliverAsync(item.Event, stopDelivering, result =>
            {
                Statistics.OnRetried();
                Statistics.OnError($"{Deliverer.Sink.Description}: {result}");
            }).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopDelivering.IsCancellationRequested)
        {
            ReportUndelivered(item);
            return false;
        }

        // The record (a copy of the event's attributes) is made only when a report needs it, not per delivered event.
        EventRecord record;
        switch (outcome.Status)
        {
            case DeliveryStatus.Delivered:
                Statistics.OnDelivered();
                Statistics.DeliveryLatency.Observe(Stopwatch.GetElapsedTime(item.Started));
                break;
            case DeliveryStatus.DeadLettered:
                record = EventRecord.From(item.Event);
                Statistics.OnDeadLettered();
                Statistics.DeliveryLatency.Observe(Stopwatch.GetElapsedTime(item.Started));
                Statistics.OnError($"event {record.Id}: {outcome.Reason}");
                Raise(new ListenerReport(ListenerReportKind.DeadLettered, $"Event {record.Id} ({record.Subject} {record.Operation}) was not delivered to {Deliverer.Sink.Description}: {outcome.Reason}.")
                {
                    Event = record,
                    StatusCode = outcome.Last.StatusCode,
                    Attempts = outcome.Attempts,
                });
                break;
            default:
                record = EventRecord.From(item.Event);
                Fail(item, new ListenerReport(ListenerReportKind.DeliveryFailed, $"Event {record.Id} ({record.Subject} {record.Operation}) could not be delivered to {Deliverer.Sink.Description}: {outcome.Reason}.")
                {
                    Event = record,
                    StatusCode = outcome.Last.StatusCode,
                    Attempts = outcome.Attempts,
                });
                break;
        }
        return true;
    }

    private void Fail(Pending item, ListenerReport report)
    {
        Statistics.OnFailed();
        Statistics.OnError(report.Message);
        Raise(report);
    }

    private void ReportUndelivered(Pending item)
    {
        Statistics.OnFailed();
        var record = item.Event is null ? null : EventRecord.From(item.Event);
        Raise(new ListenerReport(ListenerReportKind.Undelivered,
            $"Event {record?.Id ?? "(none)"} ({item.Change.Schema}.{item.Change.Table} {CapturedChange.ActionName(item.Change.Operation)}) was not delivered: the listener stopped first; the change was not acknowledged.")
        {
            Event = record,
        });
    }

    private void OnNotice(CaptureNotice notice)
    {
        Statistics.OnError(notice.Message);
        Raise(ListenerReport.FromNotice(notice));
    }

    private void Raise(ListenerReport report)
    {
        try
        {
            Reported?.Invoke(report);
        }
        catch (Exception ex)
        {
            // A host's handler must not stop delivery; keep its failure visible in the counters.
            Statistics.OnError($"report handler failed: {ex.Message}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Capture.DisposeAsync().ConfigureAwait(false);
        await Deliverer.Sink.DisposeAsync().ConfigureAwait(false);
        if (Deliverer.DeadLetterSink is { } deadLetter)
        {
            await deadLetter.DisposeAsync().ConfigureAwait(false);
        }
    }

    private sealed record Finished(long Sequence, Pending Item, bool Acknowledge, Exception? Error);

    private sealed record Pending(CapturedChange Change, CloudEvent? Event, long Started, string? Error);
}
