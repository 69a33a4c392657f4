using System.Globalization;
using System.Xml;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Database;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Events;
using PostgresSource.Core.Listening;
using PostgresSource.Core.Sources;

namespace PostgresSource.Adapter;

/// <summary>A configuration value that is missing or wrong; <see cref="Variable"/> names it.</summary>
internal sealed class AdapterConfigException(string variable, string message) : Exception(message)
{
    public string Variable { get; } = variable;
}

internal enum AdapterAction
{
    Run,
    Uninstall,
}

/// <summary>
/// The adapter's environment contract (what the Deployment sets). Names follow the seed and Knative:
/// K_SINK, K_CE_OVERRIDES, NOTIFICATION_CHANNEL, EVENT_SOURCE, NAMESPACE, NAME; the rest are PGSOURCE_*.
/// </summary>
internal sealed record AdapterConfig
{
    public const string DefaultConnectionFile = "/etc/pgsource/secret/connectionstr";

    public required AdapterAction Action { get; init; }
    public required SourceDefinition Source { get; init; }
    public required ConnectionSettings Connection { get; init; }
    public Uri? Sink { get; init; }
    public Uri? DeadLetterSink { get; init; }
    public string? Channel { get; init; }
    public string? EventSource { get; init; }
    public IReadOnlyDictionary<string, string> CeOverrides { get; init; } = new Dictionary<string, string>();
    public int HttpPort { get; init; } = 8080;
    public bool Install { get; init; } = true;
    public RetryPolicy Retry { get; init; } = RetryPolicy.Default;
    public HttpSinkOptions Http { get; init; } = HttpSinkOptions.Default;
    public int QueueCapacity { get; init; } = 100;
    /// <summary>PGSOURCE_MAX_IN_FLIGHT: deliveries in flight at once; 1 (default) keeps order at the sink; default 4 with key or unordered delivery.</summary>
    public int MaxInFlight { get; init; } = 1;

    /// <summary>PGSOURCE_ORDERING (commit, key, unordered): null when unset (commit, or unordered when PGSOURCE_MAX_IN_FLIGHT is above 1).</summary>
    public DeliveryOrder? Ordering { get; init; }

    /// <summary>PGSOURCE_ON_UNDELIVERABLE (stop, skip; default stop): what happens to a change nobody will take.</summary>
    public UndeliverableAction OnUndeliverable { get; init; } = UndeliverableAction.Stop;

    /// <summary>PGSOURCE_POLL_INTERVAL (default 100ms, 1ms to 1m): Durable's longest wait between reads of a quiet journal.</summary>
    public TimeSpan JournalPollInterval { get; init; } = CaptureOptions.DefaultJournalPollInterval;

    /// <summary>PGSOURCE_SNAPSHOT (default false): Durable and Logical emit every existing row once, as a read event, before streaming.</summary>
    public bool Snapshot { get; init; }

    /// <summary>PGSOURCE_SINGLE_ACTIVE (default true): one active replica per source; others wait as standbys.</summary>
    public bool SingleActive { get; init; } = true;
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>The channel the capture LISTENs on.</summary>
    public string EffectiveChannel => string.IsNullOrWhiteSpace(Channel) ? Source.DatabaseObjectName : Channel;

    public static AdapterConfig Load(string[] args, Func<string, string?> env)
    {
        string? Get(string name) => string.IsNullOrWhiteSpace(env(name)) ? null : env(name)!.Trim();

        var actionText = args.FirstOrDefault() ?? Get("PGSOURCE_ACTION") ?? "run";
        var action = actionText.ToLowerInvariant() switch
        {
            "run" => AdapterAction.Run,
            "uninstall" => AdapterAction.Uninstall,
            _ => throw new AdapterConfigException(args.Length > 0 ? "argument" : "PGSOURCE_ACTION", $"'{actionText}' is not an action (run or uninstall)."),
        };

        var name = Get("NAME") ?? throw new AdapterConfigException("NAME", "required: the PostgresSource's name.");
        var mode = Get("PGSOURCE_MODE") is { } modeText
            ? Enum.TryParse<CaptureMode>(modeText, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed) && !int.TryParse(modeText, out _)
                ? parsed
                : throw new AdapterConfigException("PGSOURCE_MODE", $"'{modeText}' is not a mode (Notify, Durable or Logical).")
            : CaptureMode.Notify;
        // The exporter's format (TableName.FormatList): a comma inside a quoted name is part of the name.
        var tables = TableName.ParseList(Get("PGSOURCE_TABLES"));
        var install = ParseBool("PGSOURCE_INSTALL", Get("PGSOURCE_INSTALL"), defaultValue: true);
        var overrides = Parse("K_CE_OVERRIDES", () => PostgresSource.Core.Events.CeOverrides.Parse(Get("K_CE_OVERRIDES")));

        SourceDefinition source;
        try
        {
            source = new SourceDefinition
            {
                Name = name,
                Namespace = Get("NAMESPACE") ?? SourceDefinition.DefaultNamespace,
                Uid = Get("PGSOURCE_UID"),
                Tables = tables,
                Mode = mode,
                EventType = Get("PGSOURCE_EVENT_TYPE") ?? SourceDefinition.DefaultEventType,
            };
            source = action == AdapterAction.Run && install ? source.Validate() : source.ValidateIdentity();
            if (action == AdapterAction.Run)
            {
                // Also without PGSOURCE_INSTALL: a type no event can carry is a configuration error at start, not a failure per event.
                source.ValidateEventAttributes();
            }
        }
        catch (SourceValidationException ex)
        {
            var variable = ex.Field switch
            {
                "name" => "NAME",
                "namespace" => "NAMESPACE",
                "uid" => "PGSOURCE_UID",
                "tables" => "PGSOURCE_TABLES",
                "eventType" => "PGSOURCE_EVENT_TYPE",
                _ => ex.Field,
            };
            throw new AdapterConfigException(variable, ex.Field == "tables"
                ? "required to install the source's database objects: a comma-separated list of tables (schema.table); or set PGSOURCE_INSTALL=false."
                : ex.Message);
        }

        var connection = LoadConnection(Get);
        if (Get("PGSOURCE_DB_ROOT_CERT") is { } rootCert)
        {
            // Mounted from spec.database.caCertSecret: the server must prove its identity with it.
            connection = File.Exists(rootCert)
                ? connection.WithRootCertificate(rootCert)
                : throw new AdapterConfigException("PGSOURCE_DB_ROOT_CERT", $"the file '{rootCert}' does not exist.");
        }
        var config = new AdapterConfig
        {
            Action = action,
            Source = source,
            Connection = connection,
            Install = install,
            Channel = Get("NOTIFICATION_CHANNEL"),
            EventSource = Get("EVENT_SOURCE"),
            CeOverrides = overrides,
        };
        if (action == AdapterAction.Uninstall)
        {
            return config;
        }

        if (!ChangeCaptureFactory.Supports(mode))
        {
            throw new AdapterConfigException("PGSOURCE_MODE", $"{mode} mode is not available in this build.");
        }
        var sink = ParseSink("K_SINK", Get("K_SINK") ?? throw new AdapterConfigException("K_SINK", "required: the URL events are sent to."));
        var deadLetter = Get("PGSOURCE_DEAD_LETTER_SINK") is { } dls ? ParseSink("PGSOURCE_DEAD_LETTER_SINK", dls) : null;
        var caFile = Get("PGSOURCE_CA_FILE");
        if (caFile is not null && !File.Exists(caFile))
        {
            throw new AdapterConfigException("PGSOURCE_CA_FILE", $"the file '{caFile}' does not exist.");
        }
        var contentMode = (Get("PGSOURCE_CONTENT_MODE") ?? "binary").ToLowerInvariant() switch
        {
            "binary" => EventContentMode.Binary,
            "structured" => EventContentMode.Structured,
            var other => throw new AdapterConfigException("PGSOURCE_CONTENT_MODE", $"'{other}' is not binary or structured."),
        };
        var retry = new RetryPolicy
        {
            MaxAttempts = Get("PGSOURCE_DELIVERY_ATTEMPTS") is { } attempts ? ParseInt("PGSOURCE_DELIVERY_ATTEMPTS", attempts, 1, 1, int.MaxValue) : null,
            InitialDelay = ParseDuration("PGSOURCE_DELIVERY_BACKOFF_DELAY", Get("PGSOURCE_DELIVERY_BACKOFF_DELAY"), RetryPolicy.Default.InitialDelay),
            MaxDelay = ParseDuration("PGSOURCE_DELIVERY_MAX_BACKOFF_DELAY", Get("PGSOURCE_DELIVERY_MAX_BACKOFF_DELAY"), RetryPolicy.Default.MaxDelay),
            MaxRetryTime = Get("PGSOURCE_DELIVERY_MAX_RETRY_TIME") is { } retryTime
                ? ParseDuration("PGSOURCE_DELIVERY_MAX_RETRY_TIME", retryTime, TimeSpan.Zero)
                : null,
        };
        var ordering = Get("PGSOURCE_ORDERING")?.ToLowerInvariant() switch
        {
            null => (DeliveryOrder?)null,
            "commit" => DeliveryOrder.Commit,
            "key" => DeliveryOrder.Key,
            "unordered" => DeliveryOrder.Unordered,
            var other => throw new AdapterConfigException("PGSOURCE_ORDERING", $"'{other}' is not commit, key or unordered."),
        };
        var maxInFlight = ParseInt("PGSOURCE_MAX_IN_FLIGHT", Get("PGSOURCE_MAX_IN_FLIGHT"), ordering is DeliveryOrder.Key or DeliveryOrder.Unordered ? 4 : 1, 1, 1_000);
        if (ordering == DeliveryOrder.Commit && maxInFlight > 1)
        {
            throw new AdapterConfigException("PGSOURCE_MAX_IN_FLIGHT", "commit order allows one delivery in flight; set PGSOURCE_ORDERING=key or unordered for more.");
        }
        var onUndeliverable = Get("PGSOURCE_ON_UNDELIVERABLE")?.ToLowerInvariant() switch
        {
            null or "stop" => UndeliverableAction.Stop,
            "skip" => UndeliverableAction.Skip,
            var other => throw new AdapterConfigException("PGSOURCE_ON_UNDELIVERABLE", $"'{other}' is not stop or skip."),
        };
        Parse("PGSOURCE_DELIVERY_MAX_BACKOFF_DELAY", retry.Validate);

        return config with
        {
            Sink = sink,
            DeadLetterSink = deadLetter,
            HttpPort = ParseInt("PGSOURCE_HTTP_PORT", Get("PGSOURCE_HTTP_PORT"), 8080, 1, 65535),
            Retry = retry,
            Http = new HttpSinkOptions
            {
                ContentMode = contentMode,
                CaCertificateFile = caFile,
                RequestTimeout = ParseDuration("PGSOURCE_DELIVERY_TIMEOUT", Get("PGSOURCE_DELIVERY_TIMEOUT"), HttpSinkOptions.Default.RequestTimeout),
            },
            QueueCapacity = ParseInt("PGSOURCE_QUEUE_CAPACITY", Get("PGSOURCE_QUEUE_CAPACITY"), 100, 1, 1_000_000),
            MaxInFlight = maxInFlight,
            Ordering = ordering,
            OnUndeliverable = onUndeliverable,
            SingleActive = ParseBool("PGSOURCE_SINGLE_ACTIVE", Get("PGSOURCE_SINGLE_ACTIVE"), defaultValue: true),
            Snapshot = ParseBool("PGSOURCE_SNAPSHOT", Get("PGSOURCE_SNAPSHOT"), defaultValue: false),
            DrainTimeout = ParseDuration("PGSOURCE_DRAIN_TIMEOUT", Get("PGSOURCE_DRAIN_TIMEOUT"), TimeSpan.FromSeconds(20)),
            JournalPollInterval = ParsePollInterval(Get("PGSOURCE_POLL_INTERVAL")),
        };
    }

    /// <summary>PGSOURCE_CONNECTION, else the Secret's file (PGSOURCE_CONNECTION_FILE or the default mount), else the PG* variables.</summary>
    private static ConnectionSettings LoadConnection(Func<string, string?> get)
    {
        if (get("PGSOURCE_CONNECTION") is { } text)
        {
            return Parse("PGSOURCE_CONNECTION", () => ConnectionSettings.Parse(text, "PGSOURCE_CONNECTION"));
        }
        var explicitFile = get("PGSOURCE_CONNECTION_FILE");
        var file = explicitFile ?? DefaultConnectionFile;
        if (File.Exists(file))
        {
            var content = File.ReadAllText(file).Trim();
            if (content.Length == 0)
            {
                throw new AdapterConfigException("PGSOURCE_CONNECTION_FILE", $"the file '{file}' is empty.");
            }
            return Parse("PGSOURCE_CONNECTION_FILE", () => ConnectionSettings.Parse(content, file));
        }
        if (explicitFile is not null)
        {
            throw new AdapterConfigException("PGSOURCE_CONNECTION_FILE", $"the file '{explicitFile}' does not exist.");
        }
        return Parse("PGSOURCE_CONNECTION", () => ConnectionResolver.Resolve(null, get)) ?? throw new AdapterConfigException("PGSOURCE_CONNECTION",
            $"no database connection: set PGSOURCE_CONNECTION, mount the Secret's connectionstr at {DefaultConnectionFile} (or set PGSOURCE_CONNECTION_FILE), or set PGHOST/PGDATABASE/PGUSER.");
    }

    private static T Parse<T>(string variable, Func<T> parse)
    {
        try
        {
            return parse();
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or ConnectionStringException)
        {
            throw new AdapterConfigException(variable, ex.Message);
        }
    }

    private static Uri ParseSink(string variable, string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new AdapterConfigException(variable, "not an absolute http or https URL.");
        }
        return uri;
    }

    private static bool ParseBool(string variable, string? text, bool defaultValue) => text?.ToLowerInvariant() switch
    {
        null => defaultValue,
        "true" or "1" or "yes" or "on" => true,
        "false" or "0" or "no" or "off" => false,
        _ => throw new AdapterConfigException(variable, $"'{text}' is not true or false."),
    };

    private static int ParseInt(string variable, string? text, int defaultValue, int min, int max)
    {
        if (text is null) return defaultValue;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new AdapterConfigException(variable, $"'{text}' is not a whole number from {min} to {max}.");
        }
        return value;
    }

    private static TimeSpan ParsePollInterval(string? text)
    {
        var value = ParseDuration("PGSOURCE_POLL_INTERVAL", text, CaptureOptions.DefaultJournalPollInterval);
        // Below a millisecond a quiet journal would be read in a busy loop; above a minute changes would sit unread.
        return value >= TimeSpan.FromMilliseconds(1) && value <= TimeSpan.FromMinutes(1)
            ? value
            : throw new AdapterConfigException("PGSOURCE_POLL_INTERVAL", $"'{text}' is outside 1ms to 1m.");
    }

    /// <summary>ISO 8601 as Knative's delivery.backoffDelay ("PT0.2S"), or a number with ms, s or m ("200ms", "2s").</summary>
    internal static TimeSpan ParseDuration(string variable, string? text, TimeSpan defaultValue)
    {
        if (text is null) return defaultValue;
        try
        {
            TimeSpan value;
            if (text.StartsWith('P') || text.StartsWith('p'))
            {
                value = XmlConvert.ToTimeSpan(text.ToUpperInvariant());
            }
            else
            {
                var (number, unit) = text.EndsWith("ms", StringComparison.OrdinalIgnoreCase) ? (text[..^2], 1.0)
                    : text.EndsWith('s') ? (text[..^1], 1000.0)
                    : text.EndsWith('m') ? (text[..^1], 60_000.0)
                    : throw new FormatException();
                value = TimeSpan.FromMilliseconds(double.Parse(number, NumberStyles.Float, CultureInfo.InvariantCulture) * unit);
            }
            return value >= TimeSpan.Zero ? value : throw new FormatException();
        }
        catch (FormatException)
        {
            throw new AdapterConfigException(variable, $"'{text}' is not a duration (ISO 8601 such as PT0.5S, or 500ms, 2s, 1m).");
        }
    }
}
