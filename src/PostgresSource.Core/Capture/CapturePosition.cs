namespace PostgresSource.Core.Capture;

/// <summary>
/// A mode's checkpoint for one change, handed back with the change to <see cref="IChangeCapture.AcknowledgeAsync"/>.
/// Each mode has its own subclass, so a capture recognises its positions by type; Notify mode has none (null).
/// </summary>
internal abstract record CapturePosition;

/// <summary>
/// The position of an at-least-once capture (Durable, Logical, and the snapshot of either): the change's place in the
/// order the capture handed changes out, stamped with the capture that issued it. The stamp matters after a handover
/// (<see cref="Reliability.SingleActiveCapture"/>): a change read from a capture that is gone has a position of the same
/// type, and its sequence number means nothing to the new one.
/// </summary>
internal abstract record SequencedPosition(PositionIssuer Issuer, long Sequence) : CapturePosition;

/// <summary>One capture's stamp on the positions it hands out, and the one place that recognises them again.</summary>
internal sealed class PositionIssuer
{
    /// <summary>The sequence number of a change this capture handed out; 0 for any other (another capture's, another mode's, none).</summary>
    public long SequenceOf(CapturedChange change) =>
        change.Position is SequencedPosition position && position.Issuer == this ? position.Sequence : 0;
}
