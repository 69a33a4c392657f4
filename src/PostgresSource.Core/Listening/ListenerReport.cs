using PostgresSource.Core.Capture;
using PostgresSource.Core.Events;

namespace PostgresSource.Core.Listening;

internal enum ListenerReportKind
{
    /// <summary>
    /// Neither the sink nor a dead-letter sink took the event. <see cref="SourceListener"/> no longer raises it: with
    /// <see cref="Delivery.UndeliverableAction.Stop"/> it throws <see cref="UndeliverableChangeException"/>, with Skip it
    /// raises <see cref="Skipped"/>. Hosts still map it for other producers of reports.
    /// </summary>
    DeliveryFailed,
    /// <summary>The sink did not take the event; the dead-letter sink did.</summary>
    DeadLettered,
    /// <summary>The listener stopped before the event was delivered; it was not acknowledged to the capture.</summary>
    Undelivered,
    /// <summary>Nobody would take the change and the user chose to skip such changes: it was acknowledged without delivery.</summary>
    Skipped,
    /// <summary>Something the capture wants known: a reconnect, a possible gap, an ignored notification.</summary>
    CaptureNotice,
    /// <summary>A watched table changed while the source runs: its columns (once per change), or it was renamed or dropped.</summary>
    TableChanged,
}

/// <summary>
/// What a listener tells its host (the cmdlet turns it into an error record or warning, the adapter
/// into a JSON log line). Raised from the listener's own tasks, never on the host's thread.
/// </summary>
internal sealed record ListenerReport(ListenerReportKind Kind, string Message)
{
    /// <summary>The event concerned, for delivery reports.</summary>
    public EventRecord? Event { get; init; }

    /// <summary>The sink's last HTTP status, when it answered.</summary>
    public int? StatusCode { get; init; }

    public int Attempts { get; init; }

    /// <summary>The capture may have missed changes (Notify mode after a reconnect).</summary>
    public bool PossibleLoss { get; init; }

    public static ListenerReport FromNotice(CaptureNotice notice) =>
        new(ListenerReportKind.CaptureNotice, notice.Message) { PossibleLoss = notice.PossibleLoss };
}
