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
/// Drives one source: capture → CloudEvent → delivery. A change is acknowledged to the capture only under
/// <see cref="AcknowledgementRule"/>: the sink or the dead-letter sink took its event, or the user chose to
/// skip undeliverable changes and it was reported. Otherwise (by default) the listener stops with an
/// <see cref="UndeliverableChangeException"/> and the change stays in the capture. At most <see cref="ListenerOptions.QueueCapacity"/> events are held at once: when the
/// sink is slow the listener stops reading from the capture. Owns and disposes the capture and sinks.
/// </summary>
internal sealed class SourceListener : IAsyncDisposable
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
        if (_options.EffectiveOrdering == DeliveryOrder.Key && _options.RowKeys is null)
        {
            throw new ArgumentException("Key order needs the tables' primary keys (ListenerOptions.RowKeys, from RowKeyIndex.LoadAsync).", nameof(options));
        }
        _factory = new ChangeEventFactory(source, _options.EventSource, _options.CeOverrides);
    }

    public SourceDefinition Source { get; }
    public ListenerOptions Options => _options;
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
        if (_options.EffectiveOrdering == DeliveryOrder.Key)
        {
            await _options.RowKeys!.EnsureLoadedAsync(cancellationToken).ConfigureAwait(false);
        }
        var queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var credits = new QueueCredits(_options.QueueCapacity);
        using var producing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var delivering = new CancellationTokenSource();
        Capture.Notice += OnNotice;
        _running = true;
        Exception? failure = null;
        var watching = _options.Tables is { } tables ? WatchTablesAsync(tables, producing.Token) : Task.CompletedTask;
        var consumer = Task.Run(async () =>
        {
            try
            {
                await ConsumeAsync(queue.Reader, credits, () => producing.Cancel(), delivering.Token).ConfigureAwait(false);
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
            producing.Cancel();
            await watching.ConfigureAwait(false);
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
                error = $"cannot make a CloudEvent of a change on {AttributeText.Encode(change.Schema)}.{AttributeText.Encode(change.Table)}: {ex.Message}";
            }
            Statistics.OnReceived(change.CommitTime ?? DateTimeOffset.UtcNow);
            if (_shapes.Observe(change) is { } reshaped)
            {
                ReportTableChange(reshaped);
            }
            writer.TryWrite(new Pending(change, cloudEvent, started, error));
            count++;
        }
    }

    private Task ConsumeAsync(ChannelReader<Pending> reader, QueueCredits credits, Action stopReading, CancellationToken stopDelivering) =>
        _options.EffectiveOrdering == DeliveryOrder.Commit
            ? ConsumeOrderedAsync(reader, credits, stopReading, stopDelivering)
            : ConsumeConcurrentAsync(reader, credits, stopReading, _options.EffectiveOrdering == DeliveryOrder.Key ? _options.RowKeys : null, stopDelivering);

    /// <summary>One delivery in flight: deliver, settle, next. After a change that stops the listener, nothing more is delivered or acknowledged.</summary>
    private async Task ConsumeOrderedAsync(ChannelReader<Pending> reader, QueueCredits credits, Action stopReading, CancellationToken stopDelivering)
    {
        Exception? failure = null;
        var holding = false;
        await foreach (var item in reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            try
            {
                if (failure is not null || holding)
                {
                    // Left in the capture: the listener is stopping on an earlier change.
                    if (failure is null)
                    {
                        ReportUndelivered(item);
                    }
                    continue;
                }
                var settled = await ProcessAsync(item, stopDelivering).ConfigureAwait(false);
                // Acknowledging a change acknowledges all before it: after one left unacknowledged, none more.
                holding |= !AcknowledgementRule.Acknowledges(settled.Verdict);
                if (!holding)
                {
                    await AcknowledgeAsync(item).ConfigureAwait(false);
                }
                else if (settled.Verdict == Verdict.Stop)
                {
                    failure = settled.Error;
                    stopReading();
                }
                else if (settled.Verdict == Verdict.NotTaken)
                {
                    stopReading();
                }
            }
            catch (Exception ex) when (failure is null)
            {
                // An acknowledgement failed: stop reading, leave the rest unacknowledged.
                failure = ex;
                stopReading();
            }
            finally
            {
                Statistics.OnFinished();
                credits.Return(moreQueued: reader.TryPeek(out _));
            }
        }
        if (failure is not null)
        {
            ExceptionDispatchInfo.Throw(failure);
        }
    }

    /// <summary>
    /// Up to <see cref="ListenerOptions.MaxConcurrentDeliveries"/> deliveries in flight; they may reach the sink out of
    /// order (with <paramref name="keys"/>, changes to the same row never overtake each other, and a change without a
    /// key waits for everything before it). Each change gets a sequence number in capture order; one acknowledger
    /// acknowledges change k only when every change up to k is settled, so the capture never advances past an
    /// unacknowledged change. Once a change is left unacknowledged, nothing after it is delivered or acknowledged.
    /// </summary>
    private async Task ConsumeConcurrentAsync(ChannelReader<Pending> reader, QueueCredits credits, Action stopReading, RowKeyIndex? keys,
        CancellationToken stopDelivering)
    {
        using var halted = new CancellationTokenSource();
        using var stopOrHalted = CancellationTokenSource.CreateLinkedTokenSource(stopDelivering, halted.Token);
        using var slots = new SemaphoreSlim(_options.MaxConcurrentDeliveries, _options.MaxConcurrentDeliveries);
        var finished = Channel.CreateUnbounded<Finished>(new UnboundedChannelOptions { SingleReader = true });
        var inFlightByKey = new Dictionary<string, Task>(StringComparer.Ordinal);
        var inFlight = new List<Task>();
        void Halt()
        {
            halted.Cancel();
            stopReading();
        }
        var acknowledger = Task.Run(async () =>
        {
            try
            {
                await AcknowledgeInOrderAsync(finished.Reader, credits, Halt).ConfigureAwait(false);
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
                string? key = null;
                try
                {
                    halted.Token.ThrowIfCancellationRequested();
                    if (keys is not null)
                    {
                        inFlight.RemoveAll(t => t.IsCompleted);
                        key = keys.KeyOf(item.Change);
                        // Same row: after the one in flight. No key: after everything in flight.
                        var before = key is null ? Task.WhenAll(inFlight) : inFlightByKey.GetValueOrDefault(key);
                        if (before is not null)
                        {
                            await before.WaitAsync(stopOrHalted.Token).ConfigureAwait(false);
                        }
                        stopOrHalted.Token.ThrowIfCancellationRequested();
                    }
                    await slots.WaitAsync(stopOrHalted.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    if (!halted.IsCancellationRequested)
                    {
                        ReportUndelivered(item);
                    }
                    finished.Writer.TryWrite(new Finished(number, item, new Settled(Verdict.NotTaken), null));
                    continue;
                }
                var delivery = DeliverOneAsync(number, item);
                if (keys is not null)
                {
                    inFlight.Add(delivery);
                    if (key is not null)
                    {
                        if (inFlightByKey.Count > 4 * _options.MaxConcurrentDeliveries)
                        {
                            foreach (var done in inFlightByKey.Where(p => p.Value.IsCompleted).Select(p => p.Key).ToList())
                            {
                                inFlightByKey.Remove(done);
                            }
                        }
                        inFlightByKey[key] = delivery;
                    }
                }
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
            var settled = new Settled(Verdict.NotTaken);
            Exception? error = null;
            try
            {
                settled = await ProcessAsync(item, stopDelivering).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // Like the ordered path, an unexpected error stops the listener; here once every change before it is settled.
                error = ex;
            }
            finally
            {
                if (error is not null || !AcknowledgementRule.Acknowledges(settled.Verdict))
                {
                    // Before this delivery counts as done: a later change to the same row must not overtake it.
                    halted.Cancel();
                }
                finished.Writer.TryWrite(new Finished(number, item, settled, error));
                slots.Release();
            }
        }
    }

    private async Task AcknowledgeInOrderAsync(ChannelReader<Finished> finished, QueueCredits credits, Action halt)
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
                    // The first change left unacknowledged stops all acknowledgements after it: they stay in the capture.
                    failure ??= head.Error ?? (head.Settled.Verdict == Verdict.Stop ? head.Settled.Error : null);
                    acknowledging &= failure is null && AcknowledgementRule.Acknowledges(head.Settled.Verdict);
                    if (acknowledging)
                    {
                        await AcknowledgeAsync(head.Item).ConfigureAwait(false);
                    }
                }
                catch (Exception ex)
                {
                    acknowledging = false;
                    failure = ex;
                }
                finally
                {
                    if (!acknowledging)
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

    /// <summary>
    /// The only call that acknowledges. It is not cancelled by stopping: a change the sink took is acknowledged even
    /// while the listener stops (the captures write acknowledgements out when disposed).
    /// </summary>
    private ValueTask AcknowledgeAsync(Pending item) => Capture.AcknowledgeAsync(item.Change, CancellationToken.None);

    /// <summary>Delivers one change's event (or finds why it cannot be) and settles it under the acknowledgement rule.</summary>
    private async Task<Settled> ProcessAsync(Pending item, CancellationToken stopDelivering)
    {
        if (stopDelivering.IsCancellationRequested)
        {
            ReportUndelivered(item);
            return new Settled(Verdict.NotTaken);
        }
        if (item.Event is null)
        {
            return await DeadLetterUnbuildableAsync(item, stopDelivering).ConfigureAwait(false);
        }

        DeliveryOutcome outcome;
        try
        {
            outcome = await Deliverer.DeliverAsync(item.Event, stopDelivering, result =>
            {
                Statistics.OnRetried();
                Statistics.OnError($"{Deliverer.Sink.Description}: {result}");
            }, Statistics.OnSinkAttempt).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping, or the sink says it did not take the event (the pipeline stopped): never acknowledged.
            ReportUndelivered(item);
            return new Settled(Verdict.NotTaken);
        }

        // The record (a copy of the event's attributes) is made only when a report needs it, not per delivered event.
        switch (outcome.Status)
        {
            case DeliveryStatus.Delivered:
                Statistics.OnDelivered();
                Statistics.DeliveryLatency.Observe(Stopwatch.GetElapsedTime(item.Started));
                return new Settled(Verdict.Taken);
            case DeliveryStatus.DeadLettered:
                var record = EventRecord.From(item.Event);
                Statistics.OnDeadLettered();
                Statistics.DeliveryLatency.Observe(Stopwatch.GetElapsedTime(item.Started));
                Statistics.OnError($"event {record.Id}: {outcome.Reason}");
                Raise(new ListenerReport(ListenerReportKind.DeadLettered, $"Event {record.Id} ({record.Subject} {record.Operation}) was not delivered to {Deliverer.Sink.Description}: {outcome.Reason}.")
                {
                    Event = record,
                    StatusCode = outcome.Last.StatusCode,
                    Attempts = outcome.Attempts,
                });
                return new Settled(Verdict.Taken);
            default:
                var reason = Deliverer.Policy.IsLimited && outcome.Last.Retryable
                    ? $"{outcome.Reason}; the retry limit ({Deliverer.Policy.DescribeLimit()}) was reached"
                    : outcome.Reason!;
                return Undeliverable(item, EventRecord.From(item.Event), $"could not be delivered to {Deliverer.Sink.Description}: {reason}",
                    outcome.Last.StatusCode, outcome.Attempts);
        }
    }

    /// <summary>A change no valid event could be made of: a fallback event to the dead-letter sink, else undeliverable.</summary>
    private async Task<Settled> DeadLetterUnbuildableAsync(Pending item, CancellationToken stopDelivering)
    {
        if (Deliverer.DeadLetterSink is null)
        {
            return Undeliverable(item, null, item.Error!, null, 0);
        }
        var fallback = _factory.CreateFallback(item.Change, item.Error!, DateTimeOffset.UtcNow);
        DeliveryOutcome outcome;
        try
        {
            outcome = await Deliverer.DeadLetterOnlyAsync(fallback, item.Error!, stopDelivering).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            ReportUndelivered(item);
            return new Settled(Verdict.NotTaken);
        }
        var record = EventRecord.From(fallback);
        if (outcome.Status != DeliveryStatus.DeadLettered)
        {
            return Undeliverable(item, record, $"{item.Error}; the dead-letter sink did not take it either: {outcome.DeadLetter}", outcome.DeadLetter?.StatusCode, 0);
        }
        Statistics.OnDeadLettered();
        Statistics.OnError($"event {record.Id}: {item.Error}");
        Raise(new ListenerReport(ListenerReportKind.DeadLettered, $"Event {record.Id} ({record.Subject} {record.Operation}) {item.Error}; a fallback event went to the dead-letter sink.")
        {
            Event = record,
        });
        return new Settled(Verdict.Taken);
    }

    /// <summary>Nobody took the change: skip it with a report, or stop with an error naming it (the default).</summary>
    private Settled Undeliverable(Pending item, EventRecord? record, string why, int? statusCode, int attempts)
    {
        var id = record?.Id ?? item.Change.Id;
        var what = $"{AttributeText.Encode(item.Change.Schema)}.{AttributeText.Encode(item.Change.Table)} {CapturedChange.ActionName(item.Change.Operation)}";
        var verdict = AcknowledgementRule.For(DeliveryStatus.Failed, _options.OnUndeliverable);
        Statistics.OnFailed();
        if (verdict == Verdict.Skipped)
        {
            var message = $"Event {id ?? "(no id)"} ({what}) {why}. It was skipped: acknowledged without delivery, as chosen.";
            Statistics.OnSkipped();
            Statistics.OnError(message);
            Raise(new ListenerReport(ListenerReportKind.Skipped, message) { Event = record, StatusCode = statusCode, Attempts = attempts });
            return new Settled(verdict);
        }
        var stop = $"Event {id ?? "(no id)"} ({what}) {why}. The listener stopped; the change and those after it were not acknowledged " +
                   $"and are delivered again when a listener starts{(Capture.Mode == CaptureMode.Notify ? " (Notify mode keeps nothing: they are lost)" : string.Empty)}. " +
                   "Fix the sink, give a dead-letter sink, or choose to skip undeliverable changes.";
        Statistics.OnError(stop);
        return new Settled(verdict, new UndeliverableChangeException(stop, record, id, statusCode));
    }

    private void ReportUndelivered(Pending item)
    {
        Statistics.OnUndelivered();
        var record = item.Event is null ? null : EventRecord.From(item.Event);
        Raise(new ListenerReport(ListenerReportKind.Undelivered,
            $"Event {record?.Id ?? "(none)"} ({AttributeText.Encode(item.Change.Schema)}.{AttributeText.Encode(item.Change.Table)} {CapturedChange.ActionName(item.Change.Operation)}) was not delivered: the listener stopped first; the change was not acknowledged.")
        {
            Event = record,
        });
    }

    /// <summary>
    /// Checks the source's tables now and then until the listener stops; a check that fails (the database away) is
    /// tried again at the next turn: the capture reports connection trouble itself.
    /// </summary>
    private async Task WatchTablesAsync(WatchedTables tables, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                foreach (var finding in await tables.CheckAsync(stop).ConfigureAwait(false))
                {
                    ReportTableChange(finding);
                }
                Statistics.SetTablesMissing(tables.Missing);
                await Task.Delay(_options.TableCheckInterval, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (!stop.IsCancellationRequested)
            {
                // Whatever the check meets, it must not stop delivery: it is kept visible and tried again.
                Statistics.OnError($"checking the source's tables failed: {ex.Message}");
                try
                {
                    await Task.Delay(_options.TableCheckInterval, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private void ReportTableChange(string message)
    {
        Statistics.OnTableChange();
        Raise(new ListenerReport(ListenerReportKind.TableChanged, message));
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

    private readonly TableShapeWatch _shapes = new();

    private sealed record Finished(long Sequence, Pending Item, Settled Settled, Exception? Error);

    private readonly record struct Settled(Verdict Verdict, Exception? Error = null);

    private sealed record Pending(CapturedChange Change, CloudEvent? Event, long Started, string? Error);
}
