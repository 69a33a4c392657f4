using PostgresSource.Core.Capture.Snapshots;

namespace PostgresSource.Core.Capture;

/// <summary>Settings of the at-least-once captures (Durable and Logical) and of <see cref="Reliability.SingleActiveCapture"/>.</summary>
internal sealed record ReliableCaptureOptions
{
    /// <summary>
    /// Emit every existing row once, as a Read change, before streaming (unless a snapshot already completed;
    /// an interrupted one resumes). An install with <see cref="Database.InstallOptions.Snapshot"/> asks for the
    /// same without this flag.
    /// </summary>
    public bool Snapshot { get; init; }

    /// <summary>Told after every chunk of snapshot rows and when a table is done.</summary>
    public IProgress<SnapshotProgress>? SnapshotProgress { get; init; }

    /// <summary>Rows fetched per round trip while taking a snapshot.</summary>
    public int SnapshotChunkSize { get; init; } = 1000;

    /// <summary>Durable: journal rows read per query (fewer when they are large: see <see cref="MaxBatchBytes"/>).</summary>
    public int BatchSize { get; init; } = 500;

    /// <summary>Durable: stop a read once this many payload bytes are buffered (a row is never cut).</summary>
    public long MaxBatchBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>
    /// Durable: the longest wait between two reads of an empty journal (the reader reads again within a millisecond while
    /// rows come, then backs off to this): the most a change after a quiet spell waits to be read.
    /// </summary>
    public TimeSpan JournalPollInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Acknowledged work (journal deletes, snapshot progress) is written in batches of this many changes or after <see cref="AcknowledgeFlushInterval"/>.</summary>
    public int AcknowledgeFlushCount { get; init; } = 500;

    public TimeSpan AcknowledgeFlushInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Logical: how often the confirmed position is sent to the server (also while idle, so it can recycle WAL).</summary>
    public TimeSpan StatusInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Logical: when the slot is still held by another walsender (a dead listener whose connection the server
    /// has not noticed yet), terminate it instead of waiting. Only safe when nothing else streams this source:
    /// <see cref="Reliability.SingleActiveCapture"/> turns it on for the capture it runs.
    /// </summary>
    public bool TakeOverSlot { get; init; }

    /// <summary>Keep retrying when the very first connection fails; false: the first failure is an error at once.</summary>
    public bool RetryInitialConnection { get; init; }

    public TimeSpan InitialReconnectDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The application_name of the capture's connections, unless the connection string sets one.</summary>
    public string ApplicationName { get; init; } = "PostgresSource listener";

    /// <summary><see cref="Reliability.SingleActiveCapture"/>: how often a standby tries to become the active listener.</summary>
    public TimeSpan StandbyInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// <see cref="Reliability.SingleActiveCapture"/>: when another listener is active, throw
    /// <see cref="Reliability.SourceBusyException"/> (naming it) instead of waiting as a standby. False (the adapter): wait.
    /// </summary>
    public bool FailWhenBusy { get; init; }

    public static ReliableCaptureOptions Default { get; } = new();
}

/// <summary>The capture cannot work as configured (not installed in this mode, no permission, wrong server settings); retrying will not help.</summary>
internal sealed class CaptureConfigurationException(string message, Exception? inner = null) : Exception(message, inner);
