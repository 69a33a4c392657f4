using PostgresSource.Core.Capture.Snapshots;

namespace PostgresSource.Core.Capture;

/// <summary>
/// The settings of every capture mode, in one init-only record: the shared ones (connection retry, application
/// name, snapshot, single-active) and each mode's own, named by the mode in their comments. A mode ignores the rest.
/// </summary>
internal sealed record CaptureOptions
{
    /// <summary>The NOTIFY channel to LISTEN on; default the source's object name (the adapter's NOTIFICATION_CHANNEL overrides it).</summary>
    public string? Channel { get; init; }

    /// <summary>
    /// Keep retrying when the very first connection fails (the adapter: the database may start later).
    /// False (the cmdlet): the first failure is an error at once, so a wrong host does not hang.
    /// </summary>
    public bool RetryInitialConnection { get; init; }

    /// <summary>The first wait before reconnecting; doubled per failed attempt up to <see cref="MaxReconnectDelay"/>, with jitter.</summary>
    public TimeSpan InitialReconnectDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A fresh reconnect backoff of these delays (each retry loop counts its own attempts).</summary>
    public Backoff ReconnectBackoff() => new(InitialReconnectDelay, MaxReconnectDelay);

    /// <summary>The application_name the capture's connections show in pg_stat_activity, unless the connection string sets one.</summary>
    public string ApplicationName { get; init; } = "PostgresSource listener";

    /// <summary>
    /// Durable and Logical: emit every existing row once, as a Read change, before streaming (unless a snapshot already
    /// completed; an interrupted one resumes). An install with <see cref="Database.InstallOptions.Snapshot"/> asks for the
    /// same without this flag.
    /// </summary>
    public bool Snapshot { get; init; }

    /// <summary>
    /// Durable and Logical: told after every chunk of snapshot rows and when a table is done. Called on the
    /// capture's own thread: keep it quick, and hand the value elsewhere to show it.
    /// </summary>
    public IProgress<SnapshotProgress>? SnapshotProgress { get; init; }

    /// <summary>
    /// Capture only while holding the source's leader lock; otherwise wait as a standby and take over when the
    /// active listener dies (the adapter: several replicas of one source).
    /// </summary>
    public bool SingleActive { get; init; }

    /// <summary>
    /// With <see cref="SingleActive"/>: when another listener is active, fail with <see cref="Reliability.SourceBusyException"/>
    /// (naming its session) instead of waiting as a standby. False (the default, the adapter): wait and take over.
    /// </summary>
    public bool FailWhenBusy { get; init; }

    /// <summary>
    /// Read what waits without consuming it. Durable: the journal rows there now, in journal order, and then the
    /// sequence ends; acknowledging does nothing and no lock is taken, so a running listener is not disturbed.
    /// The other modes cannot (<see cref="ChangeCaptureFactory.Create"/> throws <see cref="NotSupportedException"/>).
    /// </summary>
    public bool Peek { get; init; }

    /// <summary>
    /// Durable: the longest wait between two reads of a quiet journal, so the most the first change after a pause
    /// waits to be read (while changes come, the journal is read again within milliseconds). Lower means faster
    /// after a pause and more reads of an idle journal: one small prepared read per interval.
    /// </summary>
    public TimeSpan JournalPollInterval { get; init; } = DefaultJournalPollInterval;

    /// <summary>The one default of <see cref="JournalPollInterval"/> (the adapter's PGSOURCE_POLL_INTERVAL uses it too).</summary>
    public static readonly TimeSpan DefaultJournalPollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The range of <see cref="JournalPollInterval"/>: below a millisecond a quiet journal would be read in a busy loop;
    /// above a minute changes would sit unread.
    /// </summary>
    public static readonly TimeSpan MinJournalPollInterval = TimeSpan.FromMilliseconds(1), MaxJournalPollInterval = TimeSpan.FromMinutes(1);

    /// <summary>With <see cref="SingleActive"/>: how often a standby tries to become the active listener.</summary>
    public TimeSpan StandbyPollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Durable and Logical: how often a running capture looks for backfill requests (<see cref="Snapshots.Backfill"/>):
    /// one small read of the source's snapshot table per interval, made between reads of the stream.
    /// </summary>
    public TimeSpan BackfillCheckInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Durable and Logical: rows fetched per round trip while taking a snapshot.</summary>
    public int SnapshotChunkSize { get; init; } = 1000;

    /// <summary>Durable: journal rows read per query (fewer when they are large: see <see cref="MaxBatchBytes"/>).</summary>
    public int BatchSize { get; init; } = 500;

    /// <summary>Durable: stop a read once this many payload bytes are buffered (a row is never cut).</summary>
    public long MaxBatchBytes { get; init; } = 16 * 1024 * 1024;

    /// <summary>
    /// Durable and Logical: acknowledged work (journal deletes, snapshot progress) is written in batches of this many
    /// changes or after <see cref="AcknowledgeFlushInterval"/>.
    /// </summary>
    public int AcknowledgeFlushCount { get; init; } = 500;

    public TimeSpan AcknowledgeFlushInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Logical: how often the confirmed position is sent to the server (also while idle, so it can recycle WAL).</summary>
    public TimeSpan StatusInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Logical: when the slot is still held by another walsender (a dead listener whose connection the server
    /// has not noticed yet), terminate it instead of waiting. Only safe when nothing else streams this source:
    /// <see cref="ChangeCaptureFactory.Create"/> turns it on for the capture it runs behind <see cref="SingleActive"/>.
    /// </summary>
    public bool TakeOverSlot { get; init; }

    /// <summary>
    /// Notify: the most changes the capture holds that were read from PostgreSQL and not yet taken by the listener.
    /// The capture reads its LISTEN connection continuously whatever the sink does, so PostgreSQL's shared
    /// notification queue never fills (when it does, every NOTIFY fails at commit and so do users' writes); past
    /// this bound (or <see cref="NotifyBufferBytes"/>) the newest changes are dropped, counted and reported.
    /// </summary>
    public int NotifyBufferCapacity { get; init; } = DefaultNotifyBufferCapacity;

    /// <summary>
    /// Notify: the most payload bytes the capture holds (payload text as held in memory, two bytes per character;
    /// each held change costs about 30 bytes more). At least 16 KiB, so the largest notification fits.
    /// </summary>
    public long NotifyBufferBytes { get; init; } = DefaultNotifyBufferBytes;

    /// <summary>Notify: at most one notice of dropped changes per this interval (the first drop after a quiet spell is reported at once).</summary>
    public TimeSpan NotifyDropReportInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Notify: how often to read <c>pg_notification_queue_usage()</c> (on a short connection of its own, not the LISTEN
    /// connection); null: never.
    /// </summary>
    public TimeSpan? NotifyQueueCheckInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Notify: warn when the notification queue is fuller than this fraction (0 to 1), once per crossing.</summary>
    public double NotifyQueueWarningThreshold { get; init; } = 0.5;

    public const int DefaultNotifyBufferCapacity = 50_000;

    public const long DefaultNotifyBufferBytes = 64L * 1024 * 1024;

    /// <summary>The smallest <see cref="NotifyBufferBytes"/>: room for one notification of NOTIFY's largest size (7999 bytes).</summary>
    public const long MinNotifyBufferBytes = 16 * 1024;

    public static CaptureOptions Default { get; } = new();

    /// <summary>Checks the journal poll interval and the Notify buffer and queue-watch settings; returns this.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range (named in the exception).</exception>
    public CaptureOptions Validate()
    {
        if (JournalPollInterval < MinJournalPollInterval || JournalPollInterval > MaxJournalPollInterval)
        {
            throw new ArgumentOutOfRangeException(nameof(JournalPollInterval), JournalPollInterval, "The journal poll interval must be from 1 ms to 1 minute.");
        }
        if (NotifyBufferCapacity < 1) throw new ArgumentOutOfRangeException(nameof(NotifyBufferCapacity), NotifyBufferCapacity, "The Notify buffer needs room for at least one change.");
        if (NotifyBufferBytes < MinNotifyBufferBytes) throw new ArgumentOutOfRangeException(nameof(NotifyBufferBytes), NotifyBufferBytes, $"The Notify buffer needs at least {MinNotifyBufferBytes} bytes, room for the largest notification.");
        if (NotifyDropReportInterval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(NotifyDropReportInterval), NotifyDropReportInterval, "The drop report interval must be positive.");
        if (NotifyQueueCheckInterval is { } check && check < TimeSpan.FromMilliseconds(100)) throw new ArgumentOutOfRangeException(nameof(NotifyQueueCheckInterval), NotifyQueueCheckInterval, "Check the notification queue at most every 100 ms (null: never).");
        if (!(NotifyQueueWarningThreshold is > 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(NotifyQueueWarningThreshold), NotifyQueueWarningThreshold, "The warning threshold is a fraction above 0 and at most 1.");
        return this;
    }
}
