using CloudNative.CloudEvents;

namespace PostgresSource.Core.Delivery;

/// <summary>
/// Somewhere events go: an HTTP endpoint, the caller, the console. One call is one attempt; retries,
/// dead-lettering and reporting are the <see cref="EventDeliverer"/>'s job, not the sink's.
/// </summary>
internal interface IEventSink : IAsyncDisposable
{
    /// <summary>Where events go, safe to show (no credentials).</summary>
    string Description { get; }

    /// <summary>
    /// One attempt to hand over one event. A failed attempt is a result, not an exception; only
    /// cancellation throws (<see cref="OperationCanceledException"/>).
    /// </summary>
    Task<SendResult> SendAsync(CloudEvent cloudEvent, CancellationToken cancellationToken);
}

/// <summary>What one attempt came to.</summary>
/// <param name="Acknowledged">The sink took the event (HTTP 2xx).</param>
/// <param name="Retryable">A later attempt may succeed (Knative's classes: 404, 408, 409, 429, 5xx, network errors).</param>
/// <param name="StatusCode">The HTTP status, when there was a response.</param>
/// <param name="Error">What went wrong, for reports and logs.</param>
/// <param name="RetryAfter">The sink's Retry-After, when it gave one.</param>
/// <param name="ResponseBody">The start of the response body of a failed attempt (at most 1 KiB), for the dead-letter sink.</param>
internal sealed record SendResult(bool Acknowledged, bool Retryable, int? StatusCode = null, string? Error = null,
    TimeSpan? RetryAfter = null, string? ResponseBody = null)
{
    public static SendResult Ack(int? statusCode = null) => new(true, false, statusCode);

    public override string ToString() =>
        Acknowledged ? $"acknowledged ({StatusCode})" : StatusCode is { } code ? $"HTTP {code}: {Error}" : Error ?? "failed";
}

/// <summary>How an HTTP sink encodes events (CloudEvents HTTP binding).</summary>
// Public on purpose: a word of the user's vocabulary (CR fields, cmdlet arguments), and test theories take it as a parameter.
public enum EventContentMode
{
    /// <summary>Attributes in ce-* headers, the data as the body (the default, as Knative sends).</summary>
    Binary,
    /// <summary>The whole event as one application/cloudevents+json document.</summary>
    Structured,
}
