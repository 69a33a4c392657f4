using PostgresSource.Core.Events;

namespace PostgresSource.Core.Listening;

/// <summary>
/// The listener stopped because a change could not be delivered and stopping was chosen (the default):
/// the change and everything after it stay unacknowledged in the capture (journal row, slot position).
/// </summary>
internal sealed class UndeliverableChangeException(string message, EventRecord? @event, string? changeId, int? statusCode) : Exception(message)
{
    /// <summary>The event that was refused, when one could be built.</summary>
    public EventRecord? Event { get; } = @event;

    /// <summary>The change's event id (deterministic in Durable and Logical), when known.</summary>
    public string? ChangeId { get; } = changeId;

    /// <summary>The sink's last HTTP status, when it answered.</summary>
    public int? StatusCode { get; } = statusCode;
}
