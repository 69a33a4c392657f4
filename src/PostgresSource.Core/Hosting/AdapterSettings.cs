using PostgresSource.Core.Capture;
using PostgresSource.Core.Database;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Listening;
using PostgresSource.Core.Sources;
using static PostgresSource.Core.Hosting.SettingParsers;

namespace PostgresSource.Core.Hosting;

/// <summary>
/// The receive adapter's environment contract, one row per variable: name, parser (with its range), default and help.
/// The adapter reads its configuration through these rows and prints --help from them; the Kubernetes Deployment
/// writer names its variables by them. Names follow the seed and Knative (K_SINK, K_CE_OVERRIDES, NOTIFICATION_CHANNEL,
/// EVENT_SOURCE, NAMESPACE, NAME); the rest are PGSOURCE_*. A new setting is one row here plus its use.
/// </summary>
internal static class AdapterSettings
{
    private const string SourceSection = "source";
    private const string DatabaseSection = "database";
    private const string CaptureSection = "capture";
    private const string DeliverySection = "delivery";
    private const string AdapterSection = "adapter";

    /// <summary>Where the Deployment mounts the Secret's connectionstr key.</summary>
    public const string DefaultConnectionFile = "/etc/pgsource/secret/connectionstr";

    public static readonly AdapterSetting<string?> Action = new("PGSOURCE_ACTION", AdapterSection,
        "what to do (the first argument wins): run; uninstall the source's database objects and exit; or backfill: ask the running source to read its tables again (PGSOURCE_BACKFILL_TABLES) and exit",
        OrNull(Choice(("run", "run"), ("uninstall", "uninstall"), ("backfill", "backfill"))), null, "run");

    public static readonly AdapterSetting<string?> BackfillTables = new("PGSOURCE_BACKFILL_TABLES", SourceSection,
        "with PGSOURCE_ACTION=backfill: the tables to read again, comma-separated (default: all of PGSOURCE_TABLES)", OrNull(Text), null);

    public static readonly AdapterSetting<string?> Name = new("NAME", SourceSection, "the PostgresSource's name (required)", OrNull(Text), null);

    public static readonly AdapterSetting<string> Namespace = new("NAMESPACE", SourceSection, "the PostgresSource's namespace", Text, SourceDefinition.DefaultNamespace);

    public static readonly AdapterSetting<string?> Uid = new("PGSOURCE_UID", SourceSection, "the PostgresSource's uid (names its database objects as the seed does)", OrNull(Text), null);

    public static readonly AdapterSetting<string?> Tables = new("PGSOURCE_TABLES", SourceSection,
        "comma-separated tables (schema.table; a quoted name may hold a comma); required to install", OrNull(Text), null);

    public static readonly AdapterSetting<string?> TableFilters = new("PGSOURCE_TABLE_FILTERS", SourceSection,
        "per-table filters, spec.tables[] entries as JSON: [{\"name\": ..., \"operations\": [...], \"columns\" or \"excludeColumns\": [...], " +
        "\"maskColumns\": [...], \"mask\": \"hash\", \"where\": \"...\"}]", OrNull(Text), null);

    public static readonly AdapterSetting<CaptureMode> Mode = new("PGSOURCE_MODE", SourceSection, "how changes are captured",
        Choice(("Notify", CaptureMode.Notify), ("Durable", CaptureMode.Durable), ("Logical", CaptureMode.Logical)), CaptureMode.Notify);

    public static readonly AdapterSetting<string> EventType = new("PGSOURCE_EVENT_TYPE", SourceSection, "the CloudEvents type", Text, SourceDefinition.DefaultEventType);

    public static readonly AdapterSetting<string?> EventSource = new("EVENT_SOURCE", SourceSection, "the CloudEvents source (default namespace/name)", OrNull(Text), null);

    public static readonly AdapterSetting<string?> CeOverrides = new("K_CE_OVERRIDES", SourceSection,
        "Knative's JSON of extension attributes added to every event ({\"extensions\":{...}})", OrNull(Text), null);

    public static readonly AdapterSetting<string?> Channel = new("NOTIFICATION_CHANNEL", SourceSection,
        "the channel to LISTEN on (default the source's object name, which the installed trigger notifies)", OrNull(Text), null);

    public static readonly AdapterSetting<bool> Install = new("PGSOURCE_INSTALL", SourceSection, "install the database objects (idempotently) at start", Bool, true);

    public static readonly AdapterSetting<bool> Snapshot = new("PGSOURCE_SNAPSHOT", CaptureSection,
        "Durable and Logical: emit every existing row once, as a read event, before streaming", Bool, false);

    public static readonly AdapterSetting<string?> Connection = new(ConnectionResolver.EnvironmentVariable, DatabaseSection,
        "the connection string (URL or keywords); else the file below; else the libpq variables", OrNull(Text), null);

    public static readonly AdapterSetting<string> ConnectionFile = new("PGSOURCE_CONNECTION_FILE", DatabaseSection,
        "a file holding the connection string (the Secret's connectionstr)", Text, DefaultConnectionFile);

    public static readonly AdapterSetting<string?> DatabaseRootCertificate = new("PGSOURCE_DB_ROOT_CERT", DatabaseSection,
        "a PEM file: verify the database server with it (sslmode verify-full); a remote server reached without verification is warned about",
        OrNull(ExistingFile), null);

    public static readonly AdapterSetting<bool> SingleActive = new("PGSOURCE_SINGLE_ACTIVE", CaptureSection,
        "one active replica per source; the others wait as standbys and take over", Bool, true);

    public static readonly AdapterSetting<TimeSpan> PollInterval = new("PGSOURCE_POLL_INTERVAL", CaptureSection,
        "Durable: the longest wait between reads of a quiet journal",
        Duration(CaptureOptions.MinJournalPollInterval, CaptureOptions.MaxJournalPollInterval), CaptureOptions.DefaultJournalPollInterval);

    public static readonly AdapterSetting<Uri?> Sink = new("K_SINK", DeliverySection, "the URL events are sent to (required)", OrNull(SettingParsers.Sink), null);

    public static readonly AdapterSetting<Uri?> DeadLetterSink = new("PGSOURCE_DEAD_LETTER_SINK", DeliverySection,
        "where an event goes that the sink refuses or that ran out of retries", OrNull(SettingParsers.Sink), null);

    public static readonly AdapterSetting<EventContentMode> ContentMode = new("PGSOURCE_CONTENT_MODE", DeliverySection, "the CloudEvents HTTP content mode",
        Choice(("binary", EventContentMode.Binary), ("structured", EventContentMode.Structured)), EventContentMode.Binary);

    public static readonly AdapterSetting<string?> CaFile = new("PGSOURCE_CA_FILE", DeliverySection, "a PEM file with the CA certificate(s) of an https sink",
        OrNull(ExistingFile), null);

    public static readonly AdapterSetting<string?> CaCerts = new("K_CA_CERTS", DeliverySection,
        "PEM CA certificate(s) the sink's TLS certificate may chain to, besides the system's roots (Knative: the sink's CACerts)",
        OrNull(PemCertificates), null);

    public static readonly AdapterSetting<string?> Audience = new("K_AUDIENCE", DeliverySection,
        "the sink's OIDC audience (Knative); needs PGSOURCE_SINK_TOKEN_FILE, a token for that audience", OrNull(Text), null);

    public static readonly AdapterSetting<string?> SinkTokenFile = new("PGSOURCE_SINK_TOKEN_FILE", DeliverySection,
        "a file with the token sent to the sink as Authorization: Bearer (read again when it changes)", OrNull(ExistingFile), null);

    public static readonly AdapterSetting<string?> DeadLetterSinkCaCerts = new("PGSOURCE_DEAD_LETTER_SINK_CA_CERTS", DeliverySection,
        "PEM CA certificate(s) for the dead-letter sink's TLS, besides the system's roots", OrNull(PemCertificates), null);

    public static readonly AdapterSetting<string?> DeadLetterSinkTokenFile = new("PGSOURCE_DEAD_LETTER_SINK_TOKEN_FILE", DeliverySection,
        "a file with the token sent to the dead-letter sink as Authorization: Bearer", OrNull(ExistingFile), null);

    public static readonly AdapterSetting<UndeliverableAction> OnUndeliverable = new("PGSOURCE_ON_UNDELIVERABLE", DeliverySection,
        "a change nobody takes: stop (it stays unacknowledged) or skip it", Choice(("stop", UndeliverableAction.Stop), ("skip", UndeliverableAction.Skip)),
        UndeliverableAction.Stop);

    public static readonly AdapterSetting<DeliveryOrder?> Ordering = new("PGSOURCE_ORDERING", DeliverySection, "the order events reach the sink in",
        OrNone(Choice(("commit", DeliveryOrder.Commit), ("key", DeliveryOrder.Key), ("unordered", DeliveryOrder.Unordered))), null,
        "commit; unordered when PGSOURCE_MAX_IN_FLIGHT is above 1");

    public static readonly AdapterSetting<int?> MaxInFlight = new("PGSOURCE_MAX_IN_FLIGHT", DeliverySection, "deliveries in flight at once",
        OrNone(Int(1, 1_000)), null, $"1; {DeliveryChoices.ParallelInFlight} with key or unordered");

    public static readonly AdapterSetting<int?> DeliveryAttempts = new("PGSOURCE_DELIVERY_ATTEMPTS", DeliverySection, "attempts per event in all",
        OrNone(Int(1, int.MaxValue)), null, "no limit");

    public static readonly AdapterSetting<TimeSpan?> DeliveryMaxRetryTime = new("PGSOURCE_DELIVERY_MAX_RETRY_TIME", DeliverySection,
        "how long one event may be retried, from its first attempt", OrNone(AnyDuration), null, "no limit");

    public static readonly AdapterSetting<TimeSpan> DeliveryTimeout = new("PGSOURCE_DELIVERY_TIMEOUT", DeliverySection, "how long one attempt may take",
        AnyDuration, HttpSinkOptions.Default.RequestTimeout);

    public static readonly AdapterSetting<TimeSpan> DeliveryBackoffDelay = new("PGSOURCE_DELIVERY_BACKOFF_DELAY", DeliverySection,
        "the wait before the first retry, doubled for each one after", AnyDuration, RetryPolicy.Default.InitialDelay);

    public static readonly AdapterSetting<TimeSpan> DeliveryMaxBackoffDelay = new("PGSOURCE_DELIVERY_MAX_BACKOFF_DELAY", DeliverySection,
        "the longest wait between retries", AnyDuration, RetryPolicy.Default.MaxDelay);

    public static readonly AdapterSetting<int> QueueCapacity = new("PGSOURCE_QUEUE_CAPACITY", DeliverySection,
        "the most events held in memory; reading pauses while it is full", Int(1, 1_000_000), ListenerOptions.Default.QueueCapacity);

    public static readonly AdapterSetting<TimeSpan> DrainTimeout = new("PGSOURCE_DRAIN_TIMEOUT", DeliverySection,
        "after SIGTERM, how long in-flight events may still be delivered", AnyDuration, TimeSpan.FromSeconds(20));

    public static readonly AdapterSetting<int> HttpPort = new("PGSOURCE_HTTP_PORT", AdapterSection, "the port of /healthz, /readyz and /metrics", Int(1, 65535), 8080);

    /// <summary>Every row, in --help order.</summary>
    public static IReadOnlyList<AdapterSetting> All { get; } =
    [
        Action, BackfillTables, Name, Namespace, Uid, Tables, TableFilters, Mode, EventType, EventSource, CeOverrides, Channel, Install,
        Connection, ConnectionFile, DatabaseRootCertificate,
        Snapshot, SingleActive, PollInterval,
        Sink, DeadLetterSink, ContentMode, CaFile, CaCerts, Audience, SinkTokenFile, DeadLetterSinkCaCerts, DeadLetterSinkTokenFile, OnUndeliverable, Ordering, MaxInFlight, DeliveryAttempts, DeliveryMaxRetryTime,
        DeliveryTimeout, DeliveryBackoffDelay, DeliveryMaxBackoffDelay, QueueCapacity, DrainTimeout,
        HttpPort,
    ];

    private static SettingParser<T?> OrNull<T>(SettingParser<T> parser) where T : class =>
        new(text => parser.Parse(text), parser.Range, value => value is null ? string.Empty : parser.Describe(value));

    private static SettingParser<T?> OrNone<T>(SettingParser<T> parser) where T : struct =>
        new(text => parser.Parse(text), parser.Range, value => value is { } some ? parser.Describe(some) : string.Empty);
}
