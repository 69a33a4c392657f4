using PostgresSource.Core.Capture;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Events;
using PostgresSource.Core.Hosting;
using PostgresSource.Core.Listening;
using PostgresSource.Core.Sources;
using S = PostgresSource.Core.Hosting.AdapterSettings;

namespace PostgresSource.Adapter;

internal enum AdapterAction
{
    Run,
    Uninstall,
    /// <summary>Records a backfill request for the running source and exits (see <see cref="Core.Capture.Snapshots.Backfill"/>).</summary>
    Backfill,
}

/// <summary>
/// The adapter's configuration, read from its environment through the rows of <see cref="AdapterSettings"/>
/// (what the Deployment sets). A wrong or missing value is an <see cref="AdapterSettingException"/> naming the variable.
/// </summary>
internal sealed record AdapterConfig
{
    public required AdapterAction Action { get; init; }

    /// <summary><see cref="AdapterAction.Backfill"/>: the tables to read again; empty: all the source's.</summary>
    public IReadOnlyList<TableName> BackfillTables { get; init; } = [];
    public required SourceDefinition Source { get; init; }
    public required ConnectionSettings Connection { get; init; }
    public bool Install { get; init; } = true;
    public int HttpPort { get; init; } = S.HttpPort.DefaultValue;

    /// <summary>The listener's settings (sink, delivery, queue, capture); empty for <see cref="AdapterAction.Uninstall"/>.</summary>
    public ListenerSettings Listener { get; init; } = new();

    /// <summary>The sink events are sent to (K_SINK; set for <see cref="AdapterAction.Run"/>).</summary>
    public Uri Sink => Listener.Sink ?? throw new InvalidOperationException("No sink: the adapter is not configured to run.");

    /// <summary>The deliveries in flight and the order in force (PGSOURCE_MAX_IN_FLIGHT, PGSOURCE_ORDERING and their defaults).</summary>
    public ListenerOptions Delivery => InForce().Options;

    /// <summary>The retry limits in force (PGSOURCE_DELIVERY_ATTEMPTS, PGSOURCE_DELIVERY_MAX_RETRY_TIME) with the delays.</summary>
    public RetryPolicy Retry => InForce().Policy;

    // The adapter's source carries no spec.delivery: what the variables ask is all there is.
    private (ListenerOptions Options, RetryPolicy Policy) InForce() => Listener.Delivery.ApplyTo(Listener.Listener, Listener.Retry, null);

    /// <summary>The channel the capture LISTENs on.</summary>
    public string EffectiveChannel => string.IsNullOrWhiteSpace(Listener.Capture.Channel) ? Source.DatabaseObjectName : Listener.Capture.Channel;

    public static AdapterConfig Load(string[] args, Func<string, string?> environment)
    {
        // Blank is unset and values are trimmed, also for the libpq variables read below (a Secret file's newline).
        string? env(string name) => environment(name) is { } value && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;
        var action = (args.FirstOrDefault() is { } argument ? ParseAction(argument) : S.Action.Read(env)) switch
        {
            "uninstall" => AdapterAction.Uninstall,
            "backfill" => AdapterAction.Backfill,
            _ => AdapterAction.Run,
        };
        var install = S.Install.Read(env);
        var source = LoadSource(env, action, install);
        // Read whatever the action (every row is read in every run, so --help and the table stay one list).
        var backfillTables = TableName.ParseList(S.BackfillTables.Read(env));
        var connection = LoadConnection(env);
        if (S.DatabaseRootCertificate.Read(env) is { } rootCert)
        {
            // Mounted from spec.database.caCertSecret: the server must prove its identity with it.
            connection = connection.WithRootCertificate(rootCert);
        }
        var config = new AdapterConfig { Action = action, Source = source, Connection = connection, Install = install };
        if (action == AdapterAction.Uninstall)
        {
            return config;
        }
        if (action == AdapterAction.Backfill)
        {
            if (backfillTables.FirstOrDefault(t => !source.Tables.Contains(t)) is { } stranger)
            {
                throw S.BackfillTables.Error($"'{stranger}' is not one of PGSOURCE_TABLES ({TableName.FormatList(source.Tables)}).");
            }
            return config with { BackfillTables = backfillTables };
        }
        if (!ChangeCaptureFactory.Supports(source.Mode))
        {
            throw S.Mode.Error($"{source.Mode} mode is not available in this build.");
        }
        return config with { HttpPort = S.HttpPort.Read(env), Listener = LoadListener(env, source) };
    }

    private static string ParseAction(string argument) => argument.ToLowerInvariant() is "run" or "uninstall" or "backfill"
        ? argument.ToLowerInvariant()
        : throw new AdapterSettingException("argument", $"'{argument}' is not an action (run, uninstall or backfill).");

    private static SourceDefinition LoadSource(Func<string, string?> env, AdapterAction action, bool install)
    {
        var name = S.Name.Require(env, "the PostgresSource's name.");
        // The exporter's format (TableName.FormatList): a comma inside a quoted name is part of the name.
        var tables = TableName.ParseList(S.Tables.Read(env));
        try
        {
            var source = new SourceDefinition
            {
                Name = name!,
                Namespace = S.Namespace.Read(env),
                Uid = S.Uid.Read(env),
                Tables = tables,
                Filters = TableEntries.ParseFilters(S.TableFilters.Read(env), tables, S.TableFilters.Variable),
                Mode = S.Mode.Read(env),
                EventType = S.EventType.Read(env),
            };
            source = (action == AdapterAction.Run && install) || action == AdapterAction.Backfill ? source.Validate() : source.ValidateIdentity();
            if (action == AdapterAction.Run)
            {
                // Also without PGSOURCE_INSTALL: a type no event can carry is a configuration error at start, not a failure per event.
                source.ValidateEventAttributes();
            }
            return source;
        }
        catch (SourceValidationException ex)
        {
            var setting = ex.Field switch
            {
                "name" => S.Name,
                "namespace" => S.Namespace,
                "uid" => S.Uid,
                "tables" => S.Tables,
                "eventType" => (AdapterSetting)S.EventType,
                _ when ex.Field.StartsWith(S.TableFilters.Variable, StringComparison.Ordinal) || ex.Field.StartsWith("tables[", StringComparison.Ordinal) => S.TableFilters,
                _ => null,
            };
            if (setting == S.Tables)
            {
                throw S.Tables.Error("required to install the source's database objects: a comma-separated list of tables (schema.table); or set PGSOURCE_INSTALL=false.");
            }
            throw setting?.Error(ex.Message) ?? new AdapterSettingException(ex.Field, ex.Message);
        }
    }

    private static ListenerSettings LoadListener(Func<string, string?> env, SourceDefinition source)
    {
        var sink = S.Sink.Require(env, "the URL events are sent to.");
        var overrides = Parse(S.CeOverrides, () => PostgresSource.Core.Events.CeOverrides.Parse(S.CeOverrides.Read(env)));
        var ordering = S.Ordering.Read(env);
        var maxInFlight = S.MaxInFlight.Read(env);
        if (ordering == DeliveryOrder.Commit && maxInFlight > 1)
        {
            throw S.MaxInFlight.Error("commit order allows one delivery in flight; set PGSOURCE_ORDERING=key or unordered for more.");
        }
        var http = new HttpSinkOptions
        {
            ContentMode = S.ContentMode.Read(env),
            CaCertificateFile = S.CaFile.Read(env),
            CaCertificates = S.CaCerts.Read(env),
            TokenFile = S.SinkTokenFile.Read(env),
            RequestTimeout = S.DeliveryTimeout.Read(env),
        };
        if (S.Audience.Read(env) is not null && http.TokenFile is null)
        {
            // Knative adapters fetch the token themselves; this one reads the token the kubelet projects for the audience.
            throw S.Audience.Error($"an OIDC audience needs {S.SinkTokenFile.Variable}: a file with a service account token for that audience.");
        }
        var settings = new ListenerSettings
        {
            Sink = sink,
            DeadLetterSink = S.DeadLetterSink.Read(env),
            Http = http,
            // The dead-letter sink trusts PGSOURCE_CA_FILE too, but only its own CACerts, and gets only its own token.
            DeadLetterHttp = http with { CaCertificates = S.DeadLetterSinkCaCerts.Read(env), TokenFile = S.DeadLetterSinkTokenFile.Read(env) },
            Retry = new RetryPolicy { InitialDelay = S.DeliveryBackoffDelay.Read(env), MaxDelay = S.DeliveryMaxBackoffDelay.Read(env) },
            Delivery = new DeliveryChoices
            {
                Ordering = ordering,
                MaxInFlight = maxInFlight,
                OnUndeliverable = S.OnUndeliverable.Read(env),
                MaxAttempts = S.DeliveryAttempts.Read(env),
                MaxRetryTime = S.DeliveryMaxRetryTime.Read(env),
            },
            Listener = new ListenerOptions
            {
                QueueCapacity = S.QueueCapacity.Read(env),
                DrainTimeout = S.DrainTimeout.Read(env),
                EventSource = S.EventSource.Read(env),
                CeOverrides = overrides,
            },
            Capture = new CaptureOptions
            {
                Channel = S.Channel.Read(env),
                // The database may start after the adapter: keep trying to connect.
                RetryInitialConnection = true,
                SingleActive = S.SingleActive.Read(env),
                Snapshot = S.Snapshot.Read(env),
                JournalPollInterval = S.PollInterval.Read(env),
            },
        };
        // An event source no CloudEvent can carry is a configuration error at start, not a failure per event.
        Parse(S.EventSource, () => new ChangeEventFactory(source, settings.Listener.EventSource, settings.Listener.CeOverrides));
        try
        {
            return settings.Validate();
        }
        catch (ArgumentOutOfRangeException ex)
        {
            // The rules across settings (the first retry's wait above the longest): named by the setting the core names.
            throw SettingNamed(ex.ParamName).Error(OneLine(ex));
        }
    }

    /// <summary>The core's words without what ArgumentException appends (the parameter name, the actual value on another line).</summary>
    private static string OneLine(ArgumentException ex)
    {
        var text = ex.Message.Split('\n')[0].TrimEnd();
        var appended = text.IndexOf(" (Parameter '", StringComparison.Ordinal);
        return appended < 0 ? text : text[..appended];
    }

    private static AdapterSetting SettingNamed(string? coreName) => coreName switch
    {
        nameof(RetryPolicy.InitialDelay) => S.DeliveryBackoffDelay,
        nameof(ListenerOptions.QueueCapacity) => S.QueueCapacity,
        nameof(ListenerOptions.MaxConcurrentDeliveries) => S.MaxInFlight,
        nameof(ListenerOptions.DrainTimeout) => S.DrainTimeout,
        nameof(CaptureOptions.JournalPollInterval) => S.PollInterval,
        _ => S.DeliveryMaxBackoffDelay,
    };

    /// <summary>PGSOURCE_CONNECTION, else the Secret's file (PGSOURCE_CONNECTION_FILE or the default mount), else the PG* variables.</summary>
    private static ConnectionSettings LoadConnection(Func<string, string?> env)
    {
        if (S.Connection.Read(env) is { } text)
        {
            return Parse(S.Connection, () => ConnectionSettings.Parse(text, S.Connection.Variable));
        }
        var explicitFile = S.ConnectionFile.TextIn(env);
        var file = explicitFile ?? S.ConnectionFile.DefaultValue;
        if (File.Exists(file))
        {
            var content = File.ReadAllText(file).Trim();
            if (content.Length == 0)
            {
                throw S.ConnectionFile.Error($"the file '{file}' is empty.");
            }
            return Parse(S.ConnectionFile, () => ConnectionSettings.Parse(content, file));
        }
        if (explicitFile is not null)
        {
            throw S.ConnectionFile.Error($"the file '{explicitFile}' does not exist.");
        }
        return Parse(S.Connection, () => ConnectionResolver.Resolve(null, env)) ?? throw S.Connection.Error(
            $"no database connection: set PGSOURCE_CONNECTION, mount the Secret's connectionstr at {S.DefaultConnectionFile} (or set PGSOURCE_CONNECTION_FILE), or set PGHOST/PGDATABASE/PGUSER.");
    }

    private static T Parse<T>(AdapterSetting setting, Func<T> parse)
    {
        try
        {
            return parse();
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or ConnectionStringException)
        {
            throw setting.Error(ex.Message);
        }
    }
}
