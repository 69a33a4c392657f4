using CloudNative.CloudEvents;
using PostgresSource.Core.Events;

namespace PostgresSource.Core.Delivery;

/// <summary>
/// Hands each event to the caller (the cmdlet's pipeline, a test) as an <see cref="EventRecord"/>. The
/// event counts as taken when the callback returns, so a caller that takes events one by one gives
/// natural backpressure. A callback that is cancelled (any <see cref="OperationCanceledException"/>, whatever
/// token it carries: the caller may cancel a hand-off it did not take) did not take the event: the exception
/// goes on to the listener, which never acknowledges such a change. A callback that throws anything else
/// fails the event without retry.
/// </summary>
internal sealed class CallbackSink(Func<EventRecord, CancellationToken, ValueTask> receive, string description = "caller") : IEventSink
{
    public string Description { get; } = description;

    public async Task<SendResult> SendAsync(CloudEvent cloudEvent, CancellationToken cancellationToken)
    {
        try
        {
            await receive(EventRecord.From(cloudEvent), cancellationToken).ConfigureAwait(false);
            return SendResult.Ack();
        }
        catch (OperationCanceledException)
        {
            // Not taken. Never a failed result: a failed, non-retryable result could be acknowledged as "finished".
            throw;
        }
        catch (Exception ex)
        {
            return new SendResult(false, false, null, ex.Message);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
