namespace PostgresSource.Core.Sources;

/// <summary>How a source captures changes (docs/capture-modes.md: what each mode guarantees and costs).</summary>
// Public on purpose: a word of the user's vocabulary (CR fields, cmdlet arguments), and test theories take it as a parameter.
public enum CaptureMode
{
    /// <summary>Seed-compatible trigger + pg_notify; at most once.</summary>
    Notify,
    /// <summary>Trigger writes a journal; NOTIFY only wakes the listener; at least once.</summary>
    Durable,
    /// <summary>Logical replication (pgoutput) through a publication and a slot; at least once.</summary>
    Logical,
}
