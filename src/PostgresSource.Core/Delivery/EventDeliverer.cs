using System.Text;
using CloudNative.CloudEvents;
using PostgresSource.Core.Events;

namespace PostgresSource.Core.Delivery;

internal enum DeliveryStatus
{
    /// <summary>The sink acknowledged the event.</summary>
    Delivered,
    /// <summary>The sink refused it or every attempt failed; the dead-letter sink acknowledged it.</summary>
    DeadLettered,
    /// <summary>Neither the sink nor a dead-letter sink took it (refused for good, or the retry limit was reached): undeliverable.</summary>
    Failed,
}

/// <summary>The end of one event's delivery.</summary>
/// <param name="Attempts">Attempts made on the sink (dead-letter attempts not included).</param>
/// <param name="Last">The last attempt's result on the sink.</param>
/// <param name="DeadLetter">The last attempt's result on the dead-letter sink, when one was tried.</param>
internal sealed record DeliveryOutcome(DeliveryStatus Status, int Attempts, SendResult Last, SendResult? DeadLetter = null)
{
    /// <summary>Why the event did not reach the sink, for reports; null when delivered.</summary>
    public string? Reason => Status switch
    {
        DeliveryStatus.Delivered => null,
        DeliveryStatus.DeadLettered => $"sink: {Last} after {Attempts} attempt(s); sent to the dead-letter sink",
        _ => DeadLetter is null
            ? $"sink: {Last} after {Attempts} attempt(s)"
            : $"sink: {Last} after {Attempts} attempt(s); dead-letter sink: {DeadLetter}",
    };
}

/// <summary>
/// Delivers one event: attempts on the sink under the retry policy, then, if it was not taken, to the
/// dead-letter sink (same policy) with Knative's knativeerror* extensions. Never throws for a failed
/// delivery; the outcome says what happened. Only cancellation throws.
/// </summary>
internal sealed class EventDeliverer
{
    private static readonly CloudEventAttribute ErrorDestination = ChangeEventFactory.Extension(EventAttributes.ErrorDestination, CloudEventAttributeType.String);
    private static readonly CloudEventAttribute ErrorCode = ChangeEventFactory.Extension(EventAttributes.ErrorCode, CloudEventAttributeType.String);
    private static readonly CloudEventAttribute ErrorData = ChangeEventFactory.Extension(EventAttributes.ErrorData, CloudEventAttributeType.String);

    public EventDeliverer(IEventSink sink, RetryPolicy? policy = null, IEventSink? deadLetterSink = null)
    {
        Sink = sink;
        Policy = (policy ?? RetryPolicy.Default).Validate();
        DeadLetterSink = deadLetterSink;
    }

    public IEventSink Sink { get; }
    public RetryPolicy Policy { get; }
    public IEventSink? DeadLetterSink { get; }

    /// <param name="onRetry">Called before each retry with the failed attempt's result (sink and dead-letter sink).</param>
    /// <param name="onSinkAttempt">Called after every attempt on the sink (not the dead-letter sink), for its state and response codes.</param>
    public async Task<DeliveryOutcome> DeliverAsync(CloudEvent cloudEvent, CancellationToken cancellationToken, Action<SendResult>? onRetry = null,
        Action<SendResult>? onSinkAttempt = null)
    {
        var (last, attempts) = await SendWithRetriesAsync(Sink, cloudEvent, onRetry, cancellationToken, onSinkAttempt).ConfigureAwait(false);
        if (last.Acknowledged)
        {
            return new DeliveryOutcome(DeliveryStatus.Delivered, attempts, last);
        }
        if (DeadLetterSink is null)
        {
            return new DeliveryOutcome(DeliveryStatus.Failed, attempts, last);
        }
        var letter = DeadLetterOf(cloudEvent, last);
        var (dead, _) = await SendWithRetriesAsync(DeadLetterSink, letter, onRetry, cancellationToken).ConfigureAwait(false);
        return new DeliveryOutcome(dead.Acknowledged ? DeliveryStatus.DeadLettered : DeliveryStatus.Failed, attempts, last, dead);
    }

    /// <summary>
    /// Sends an event that was never offered to the sink (a change no valid event could be made of, as a fallback
    /// event) straight to the dead-letter sink, under the same policy. Failed when there is none or it did not take it.
    /// </summary>
    public async Task<DeliveryOutcome> DeadLetterOnlyAsync(CloudEvent fallback, string reason, CancellationToken cancellationToken)
    {
        var never = new SendResult(false, false, null, reason);
        if (DeadLetterSink is null)
        {
            return new DeliveryOutcome(DeliveryStatus.Failed, 0, never);
        }
        var (dead, _) = await SendWithRetriesAsync(DeadLetterSink, fallback, null, cancellationToken).ConfigureAwait(false);
        return new DeliveryOutcome(dead.Acknowledged ? DeliveryStatus.DeadLettered : DeliveryStatus.Failed, 0, never, dead);
    }

    private async Task<(SendResult Last, int Attempts)> SendWithRetriesAsync(
        IEventSink sink, CloudEvent cloudEvent, Action<SendResult>? onRetry, CancellationToken cancellationToken, Action<SendResult>? onAttempt = null)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        for (var attempt = 1; ; attempt++)
        {
            var result = await sink.SendAsync(cloudEvent, cancellationToken).ConfigureAwait(false);
            onAttempt?.Invoke(result);
            if (result.Acknowledged || !result.Retryable || !Policy.AllowsAnother(attempt, System.Diagnostics.Stopwatch.GetElapsedTime(started)))
            {
                return (result, attempt);
            }
            onRetry?.Invoke(result);
            // Without a limit this holds the stream back until the sink answers (or the listener stops: cancellation).
            await Task.Delay(Policy.DelayBeforeRetry(attempt, result.RetryAfter), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A copy of the event with where and why delivery failed, as Knative's dead-letter extensions.</summary>
    private CloudEvent DeadLetterOf(CloudEvent original, SendResult failure)
    {
        var letter = new CloudEvent(original.SpecVersion);
        foreach (var (attribute, value) in original.GetPopulatedAttributes())
        {
            letter[attribute] = value;
        }
        letter.Data = original.Data;
        letter[ErrorDestination] = Sink.Description;
        if (failure.StatusCode is { } code)
        {
            letter[ErrorCode] = code.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var data = failure.ResponseBody ?? failure.Error;
        if (!string.IsNullOrEmpty(data))
        {
            letter[ErrorData] = Convert.ToBase64String(Encoding.UTF8.GetBytes(data));
        }
        return letter;
    }
}
