using PostgresSource.Core.Delivery;

namespace PostgresSource.Core.Listening;

/// <summary>How one change's delivery ended, as far as the capture is concerned.</summary>
internal enum Verdict
{
    /// <summary>The sink or the dead-letter sink took it: acknowledge.</summary>
    Taken,
    /// <summary>Nobody took it and the user chose to skip such changes: acknowledge, and it has been reported with its id.</summary>
    Skipped,
    /// <summary>Nobody took it and stopping was chosen: the listener stops; this change and all after it stay unacknowledged.</summary>
    Stop,
    /// <summary>The listener stopped (or the pipeline stopped taking events) first: not acknowledged.</summary>
    NotTaken,
}

/// <summary>
/// The acknowledgement rule, in one place: a change is acknowledged only when (a) the sink took it, (b) the
/// dead-letter sink took it, or (c) the user chose to skip undeliverable changes and it was reported.
/// Every path of the listener asks here; no other code decides to acknowledge.
/// </summary>
internal static class AcknowledgementRule
{
    public static Verdict For(DeliveryStatus status, UndeliverableAction onUndeliverable) => status switch
    {
        DeliveryStatus.Delivered or DeliveryStatus.DeadLettered => Verdict.Taken,
        _ => onUndeliverable == UndeliverableAction.Skip ? Verdict.Skipped : Verdict.Stop,
    };

    public static bool Acknowledges(Verdict verdict) => verdict is Verdict.Taken or Verdict.Skipped;
}
