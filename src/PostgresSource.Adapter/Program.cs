using System.Runtime.InteropServices;
using Npgsql;
using PostgresSource.Core;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Capture.Snapshots;
using PostgresSource.Core.Capture.Notify;
using PostgresSource.Core.Database;
using PostgresSource.Core.Diagnostics;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Hosting;
using PostgresSource.Core.Listening;
using PostgresSource.Core.Sources;

namespace PostgresSource.Adapter;

/// <summary>
/// The receive adapter. Exit codes: 0 stopped by SIGTERM/SIGINT (after draining) or a one-shot action
/// done; 1 a failure at run time (logged); 2 bad or missing configuration (one line on stderr).
/// </summary>
internal static class Program
{
    private const int ExitFailure = 1;
    private const int ExitConfiguration = 2;
    /// <summary>A change nobody would take and PGSOURCE_ON_UNDELIVERABLE=stop (the default): it stays unacknowledged; the restart tries it again.</summary>
    private const int ExitUndeliverable = 3;
    private static readonly TimeSpan BacklogInterval = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan SnapshotProgressInterval = TimeSpan.FromSeconds(1);

    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] is "-h" or "--help" or "help")
        {
            Console.Out.WriteLine(AdapterHelp.Render());
            return 0;
        }
        AdapterConfig config;
        try
        {
            config = AdapterConfig.Load(args, Environment.GetEnvironmentVariable);
        }
        catch (AdapterSettingException ex)
        {
            Console.Error.WriteLine($"pgsource-adapter: configuration error: {ex.Variable}: {ex.Message}");
            return ExitConfiguration;
        }

        var log = new JsonLog(Console.Out);
        using var stopping = new CancellationTokenSource();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            if (!stopping.IsCancellationRequested)
            {
                log.Info("stopping: draining in-flight deliveries", ("signal", context.Signal.ToString()));
                stopping.Cancel();
            }
        }

        if (ConnectionSecurity.UnverifiedServerWarning(config.Connection) is { } unverified)
        {
            log.Warn(unverified, ("database", config.Connection.ToDisplayString()));
        }
        try
        {
            return config.Action switch
            {
                AdapterAction.Uninstall => await UninstallAsync(config, log, stopping.Token).ConfigureAwait(false),
                AdapterAction.Backfill => await BackfillAsync(config, log, stopping.Token).ConfigureAwait(false),
                _ => await RunAsync(config, log, stopping.Token).ConfigureAwait(false),
            };
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            log.Info("stopped before the source was running");
            return 0;
        }
    }

    private static async Task<int> UninstallAsync(AdapterConfig config, JsonLog log, CancellationToken cancellationToken)
    {
        log.Info("uninstalling the source's database objects", Identity(config));
        try
        {
            await using var session = await SourceSchema.PlanUninstallAsync(config.Source, config.Connection, cancellationToken: cancellationToken).ConfigureAwait(false);
            var changes = session.Changes.Select(c => c.Describe()).ToList();
            await session.ApplyAsync(cancellationToken).ConfigureAwait(false);
            log.Info(changes.Count == 0 ? "nothing to uninstall" : "uninstalled", ("objectName", config.Source.DatabaseObjectName), ("changes", string.Join("; ", changes)));
            return 0;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            log.Error("uninstall failed", ("error", ex.Message), ("database", config.Connection.ToDisplayString()));
            return ExitFailure;
        }
    }

    /// <summary>Records the backfill request; the source's running adapter takes it within seconds and reads the tables.</summary>
    private static async Task<int> BackfillAsync(AdapterConfig config, JsonLog log, CancellationToken cancellationToken)
    {
        try
        {
            var tables = await Backfill.RequestAsync(config.Source, config.Connection, config.BackfillTables, cancellationToken).ConfigureAwait(false);
            log.Info("backfill requested: the source's listener reads these tables again", [.. Identity(config), ("tables", string.Join(",", tables.Select(t => t.ToString())))]);
            return 0;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or MissingTablesException or NotSupportedException or CaptureConfigurationException)
        {
            log.Error("backfill request failed", ("error", ex.Message), ("database", config.Connection.ToDisplayString()));
            return ExitFailure;
        }
    }

    private static async Task<int> RunAsync(AdapterConfig config, JsonLog log, CancellationToken cancellationToken)
    {
        var identity = Identity(config);
        var settings = config.Listener;
        var (delivery, retry) = (config.Delivery, config.Retry);
        log.Info("starting", [.. identity, ("sink", HttpEventSink.Describe(config.Sink)), ("contentMode", settings.Http.ContentMode.ToString().ToLowerInvariant()),
            ("deadLetterSink", settings.DeadLetterSink is null ? null : HttpEventSink.Describe(settings.DeadLetterSink)), ("install", config.Install),
            ("deliveryAttempts", retry.MaxAttempts?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unlimited"),
            ("deliveryRetryLimit", retry.DescribeLimit()), ("onUndeliverable", delivery.OnUndeliverable.ToString().ToLowerInvariant()),
            ("ordering", delivery.EffectiveOrdering.ToString().ToLowerInvariant()),
            ("httpPort", config.HttpPort), ("snapshot", settings.Capture.Snapshot),
            ("version", typeof(Program).Assembly.GetName().Version?.ToString(3))]);
        if (settings.Capture.Channel is { } channel && channel != config.Source.DatabaseObjectName)
        {
            log.Warn("NOTIFICATION_CHANNEL differs from the source's object name; the installed trigger notifies the object name",
                ("channel", channel), ("objectName", config.Source.DatabaseObjectName));
        }

        if (settings.Capture.Snapshot && config.Source.Mode == CaptureMode.Notify)
        {
            log.Warn("PGSOURCE_SNAPSHOT has no effect in Notify mode; use Durable or Logical for an initial snapshot", ("mode", config.Source.Mode.ToString()));
        }

        SourceListener? listener = null;
        await using var backlog = new BacklogWatch(new BacklogProbe(config.Source, config.Connection), BacklogInterval);
        await using var health = new HealthServer(config.HttpPort, new Dictionary<string, Func<HealthAnswer>>
        {
            ["/readyz"] = () => listener?.IsReady == true ? HealthAnswer.Ok("ready\n") : HealthAnswer.Unavailable("not ready: not connected and listening\n"),
            ["/metrics"] = () => new(200, HealthAnswer.Prometheus, Metrics.Render(settings.Listener.EventSource ?? config.Source.EventSource, config.Source.Namespace,
                config.Source.Name, listener?.Statistics, listener?.IsReady == true, backlog.Latest, NotifyOf(listener?.Capture))),
            // What the controller copies into the PostgresSource's status.
            [AdapterState.Path] = () => new(200, "application/json", AdapterState.From(listener?.IsReady == true, config.Source.Mode.ToString(), listener?.Statistics, backlog.Latest).ToJson()),
        }, log);

        if (config.Install && !await InstallAsync(config, log, cancellationToken).ConfigureAwait(false))
        {
            return ExitFailure;
        }
        var rowKeys = delivery.EffectiveOrdering == DeliveryOrder.Key ? await LoadRowKeysAsync(config, log, cancellationToken).ConfigureAwait(false) : null;
        backlog.Start();

        listener = ListenerBuilder.Build(config.Source, config.Connection, settings with
        {
            // Also logs a snapshot requested at install (Install-PgSourceTrigger -Snapshot) without PGSOURCE_SNAPSHOT.
            Capture = settings.Capture with { SnapshotProgress = new SnapshotProgressLog(log, SnapshotProgressInterval) },
        }, rowKeys: rowKeys);
        await using (listener.ConfigureAwait(false))
        {
            listener.Reported += report => Log(log, report);
            var readyLogged = Task.Run(async () =>
            {
                while (!cancellationToken.IsCancellationRequested && !listener.IsReady)
                {
                    await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
                }
                if (listener.IsReady)
                {
                    log.Info("listening", ("channel", config.EffectiveChannel), ("mode", config.Source.Mode.ToString()), ("maxInFlight", delivery.MaxConcurrentDeliveries),
                        ("journalPollIntervalMs", config.Source.Mode == CaptureMode.Durable ? settings.Capture.JournalPollInterval.TotalMilliseconds : null));
                }
            }, CancellationToken.None);
            try
            {
                await listener.RunAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (UndeliverableChangeException ex)
            {
                log.Error("stopping: a change could not be delivered; it stays unacknowledged and is sent again at the next start",
                    ("id", ex.ChangeId), ("subject", ex.Event?.Subject), ("operation", ex.Event?.Operation), ("statusCode", ex.StatusCode), ("reason", ex.Message),
                    ("remedy", "fix the sink, set PGSOURCE_DEAD_LETTER_SINK, or PGSOURCE_ON_UNDELIVERABLE=skip"));
                LogTotals(log, listener.Statistics);
                return ExitUndeliverable;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                log.Error("capture failed and cannot recover", ("error", ex.Message), ("database", config.Connection.ToDisplayString()));
                LogTotals(log, listener.Statistics);
                return ExitFailure;
            }
            await readyLogged.ConfigureAwait(false);
            LogTotals(log, listener.Statistics);
        }
        return 0;
    }

    /// <summary>Installs idempotently; waits with backoff while the database cannot be reached. False on a failure retrying cannot fix.</summary>
    private static async Task<bool> InstallAsync(AdapterConfig config, JsonLog log, CancellationToken cancellationToken)
    {
        try
        {
            return await WhileUnreachableAsync(async () =>
            {
                await using var session = await SourceSchema.PlanInstallAsync(config.Source, config.Connection, cancellationToken: cancellationToken).ConfigureAwait(false);
                var changes = session.Changes.Select(c => c.Describe()).ToList();
                await session.ApplyAsync(cancellationToken).ConfigureAwait(false);
                log.Info(changes.Count == 0 ? "database objects already installed" : "installed database objects",
                    ("objectName", config.Source.DatabaseObjectName), ("tables", string.Join(",", session.Tables.Select(t => t.ToString()))), ("changes", changes.Count));
                return true;
            }, "database not reachable; retrying install", config, log, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or MissingTablesException or TableFilterException or NotSupportedException or TimeoutException or IHasRemedy)
        {
            log.Error("install failed", ("error", ex.Message), ("remedy", AdapterAdvice.For(ex)), ("database", config.Connection.ToDisplayString()));
            return false;
        }
    }

    /// <summary>The tables' primary keys for key order; waits with backoff while the database cannot be reached.</summary>
    private static Task<RowKeyIndex> LoadRowKeysAsync(AdapterConfig config, JsonLog log, CancellationToken cancellationToken) =>
        WhileUnreachableAsync(() => RowKeyIndex.LoadAsync(config.Connection, config.Source, cancellationToken),
            "database not reachable; retrying to read the tables' primary keys", config, log, cancellationToken);

    /// <summary>Runs a start-up step, retrying with doubling waits (0.5 s to 30 s) while the database cannot be reached.</summary>
    private static async Task<T> WhileUnreachableAsync<T>(Func<Task<T>> step, string message, AdapterConfig config, JsonLog log, CancellationToken cancellationToken)
    {
        // Without jitter: one adapter per source, so nothing to spread out, and the logged wait is the real one.
        var backoff = new Backoff(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(30), jitter: 0);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await step().ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && TransientErrors.IsTransient(ex))
            {
                var delay = backoff.Next();
                log.Warn(message, ("error", ex.Message), ("attempt", attempt), ("retryInSeconds", delay.TotalSeconds),
                    ("database", config.Connection.ToDisplayString()));
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The Notify capture inside the listener (behind the single-active wrapper), for its buffer metrics.</summary>
    private static NotifyCapture? NotifyOf(IChangeCapture? capture) => capture switch
    {
        NotifyCapture notify => notify,
        PostgresSource.Core.Capture.Reliability.SingleActiveCapture { ActiveCapture: NotifyCapture notify } => notify,
        _ => null,
    };

    private static void Log(JsonLog log, ListenerReport report)
    {
        var fields = new List<(string, object?)>
        {
            ("id", report.Event?.Id),
            ("subject", report.Event?.Subject),
            ("operation", report.Event?.Operation),
            ("statusCode", report.StatusCode),
            ("attempts", report.Attempts == 0 ? null : report.Attempts),
        };
        switch (report.Kind)
        {
            case ListenerReportKind.DeliveryFailed:
                log.Error("event not delivered", [.. fields, ("reason", report.Message)]);
                break;
            case ListenerReportKind.Skipped:
                log.Error("event skipped: nobody took it; acknowledged without delivery as PGSOURCE_ON_UNDELIVERABLE=skip chose", [.. fields, ("reason", report.Message)]);
                break;
            case ListenerReportKind.Undelivered:
                log.Warn("event not delivered before shutdown; not acknowledged", [.. fields, ("reason", report.Message)]);
                break;
            case ListenerReportKind.DeadLettered:
                log.Warn("event sent to the dead-letter sink", [.. fields, ("reason", report.Message)]);
                break;
            case ListenerReportKind.TableChanged:
                log.Warn(report.Message);
                break;
            default:
                log.Write(report.PossibleLoss ? "warn" : "info", report.Message, ("possibleLoss", report.PossibleLoss));
                break;
        }
    }

    private static void LogTotals(JsonLog log, ListenerStatistics statistics) =>
        log.Info("stopped", ("received", statistics.Received), ("delivered", statistics.Delivered), ("retried", statistics.Retried),
            ("failed", statistics.Failed), ("deadLettered", statistics.DeadLettered), ("skipped", statistics.Skipped), ("undelivered", statistics.Undelivered));

    private static (string, object?)[] Identity(AdapterConfig config) =>
    [
        ("source", config.Listener.Listener.EventSource ?? config.Source.EventSource),
        ("name", config.Source.Name),
        ("namespace", config.Source.Namespace),
        ("mode", config.Source.Mode.ToString()),
        ("objectName", config.Source.DatabaseObjectName),
        ("database", config.Connection.ToDisplayString()),
    ];
}
