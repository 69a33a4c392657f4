namespace PostgresSource.Core.Delivery;

/// <summary>
/// What the listener does with a change that neither the sink nor a dead-letter sink will take: the sink
/// refused it for good (a 4xx other than 404, 408, 409, 429), the retry limit was reached, or no valid
/// CloudEvent can be made of it.
/// </summary>
internal enum UndeliverableAction
{
    /// <summary>Stop with an error naming the change; it stays unacknowledged (journal row or slot position kept). The default.</summary>
    Stop,
    /// <summary>Report it (id, reason) and acknowledge it, so the stream goes on without it.</summary>
    Skip,
}
