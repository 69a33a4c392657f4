using CloudNative.CloudEvents;
using PostgresSource.Core.Events;

namespace PostgresSource.Core.Delivery;

/// <summary>
/// Hands each event to the caller (the cmdlet's pipeline, a test) as an <see cref="EventRecord"/>. The
/// event counts as acknowledged when the callback returns, so a caller that takes events one by one
/// gives natural backpressure. A callback that throws fails the event without retry.
/// </summary>
public sealed class CallbackSink(Func<EventRecord, CancellationToken, ValueTask> receive, string description = "caller") : IEventSink
{
    public string Description { get; } = description;

    public async Task<SendResult> SendAsync(CloudEvent cloudEvent, CancellationToken cancellationToken)
    {
        try
        {
            await receive(EventRecord.From(cloudEvent), cancellationToken).ConfigureAwait(false);
            return SendResult.Ack();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            return new SendResult(false, false, null, ex.Message);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
