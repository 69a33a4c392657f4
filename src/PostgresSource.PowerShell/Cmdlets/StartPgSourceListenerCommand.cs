using System.Management.Automation;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Events;
using PostgresSource.Core.Listening;
using PostgresSource.Core.Sources;
using PostgresSource.PowerShell.Infrastructure;
using PostgresSource.Core.Capture.Notify;

namespace PostgresSource.PowerShell.Cmdlets;

/// <summary>
/// Listens to sources in the foreground. With a sink (-Sink or the source's), delivers CloudEvents
/// until stopped and shows counts as progress; without one, writes each event to the pipeline. An
/// initial snapshot shows its own progress bar per source.
/// Background tasks only queue work; every Write* happens here, on the pipeline thread.
/// <para>
/// Pipeline mode: an event counts as taken (and the listener may acknowledge its change) only once it was written
/// to the pipeline, also when the downstream command stops the pipeline right after taking it (Select-Object
/// -First). An event not written (the pipeline was stopping, Ctrl+C, -Timeout, -MaxEvents reached) is a cancelled
/// hand-off: never acknowledged. However the command ends, the listeners finish and are disposed before it
/// returns, so the captures write the acknowledgements of what was taken.
/// </para>
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "PgSourceListener", HelpUri = HelpLinks.StartPgSourceListener, DefaultParameterSetName = ListenSet)]
[OutputType(typeof(PgSourceEvent))]
public sealed class StartPgSourceListenerCommand : DatabaseCmdlet
{
    private const string ListenSet = "Listen";
    private const string PeekSet = "Peek";
    private const int ProgressId = 0x5047;
    private const int KeyOrUnorderedInFlight = 4;
    private static readonly TimeSpan SinkDrainTimeout = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan StopWait = TimeSpan.FromSeconds(10);

    private readonly List<PgSource> _sources = [];
    // Events, reports and failures from the listeners' tasks, written here on the pipeline thread.
    private readonly PipelineInbox<object> _inbox = new();
    // Event ids already written as PgSource.DeliveryFailed: the listener's UndeliverableChangeException for one is not written twice.
    private readonly HashSet<string> _failedIds = [];
    private ListenerSettings? _settings;

    [Parameter(Mandatory = true, ValueFromPipeline = true, Position = 0)]
    [ValidateNotNull]
    public PgSource[] Source { get; set; } = [];

    /// <summary>Deliver here instead of the source's own sink (an http or https URL).</summary>
    [Parameter]
    public Uri? Sink { get; set; }

    /// <summary>Stop after this many events (written to the pipeline, or finished at the sink).</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int MaxEvents { get; set; }

    /// <summary>Stop after this many seconds. With -MaxEvents, stopping early is an OperationTimeout error.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int Timeout { get; set; }

    [Parameter]
    public PgSourceContentMode ContentMode { get; set; } = PgSourceContentMode.Binary;

    /// <summary>Attempts per event in all (1 = no retry); default no limit. 404, 408, 409, 429, 5xx and network errors are retried.</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int MaxAttempts { get; set; }

    /// <summary>How long one event may be retried, from its first attempt; default no limit.</summary>
    [Parameter]
    public TimeSpan MaxRetryTime { get; set; }

    /// <summary>What to do with an event neither the sink nor the dead-letter sink takes: stop (default) or skip it.</summary>
    [Parameter]
    public PgSourceUndeliverableAction OnUndeliverable { get; set; } = PgSourceUndeliverableAction.Stop;

    /// <summary>The order events reach the sink in; the capture is always acknowledged in commit order.</summary>
    [Parameter]
    public PgSourceDeliveryOrder Ordering { get; set; } = PgSourceDeliveryOrder.Commit;

    /// <summary>
    /// Deliveries in flight at once: 1 for Commit order; default 4 with Key or Unordered. Alias MaxConcurrentDeliveries,
    /// the core's name for it.
    /// </summary>
    [Parameter]
    [Alias("MaxConcurrentDeliveries")]
    [ValidateRange(1, 1000)]
    public int MaxInFlight { get; set; }

    /// <summary>The wait before the first retry, doubled for each one after (with jitter).</summary>
    [Parameter]
    public TimeSpan RetryDelay { get; set; } = RetryPolicy.Default.InitialDelay;

    [Parameter]
    public TimeSpan MaxRetryDelay { get; set; } = RetryPolicy.Default.MaxDelay;

    /// <summary>Where an event goes when the sink refuses it or every attempt failed.</summary>
    [Parameter]
    public Uri? DeadLetterSink { get; set; }

    /// <summary>Durable and Logical: emit every existing row once, as a read event, before streaming (resumes if interrupted).</summary>
    [Parameter(ParameterSetName = ListenSet)]
    public SwitchParameter Snapshot { get; set; }

    /// <summary>
    /// Durable and Logical: when another listener consumes the source, wait as a standby and take over when it stops,
    /// instead of failing at once with PgSource.SourceBusy.
    /// </summary>
    [Parameter(ParameterSetName = ListenSet)]
    public SwitchParameter Standby { get; set; }

    /// <summary>Durable: write (or send) the journal's waiting changes without consuming them, then stop. Takes no lock.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PeekSet)]
    public SwitchParameter Peek { get; set; }

    /// <summary>A PEM file with the CA certificate(s) that sign an HTTPS sink's certificate.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? CaCertificatePath { get; set; }

    /// <summary>Durable: the longest wait between two reads of a quiet journal (1 ms to 1 minute).</summary>
    [Parameter]
    public TimeSpan PollInterval { get; set; } = CaptureOptions.DefaultJournalPollInterval;

    /// <summary>The most events held in memory at once; reading from the database pauses while it is full.</summary>
    [Parameter]
    [ValidateRange(1, 100_000)]
    public int QueueCapacity { get; set; } = ListenerOptions.Default.QueueCapacity;

    protected override void ProcessRecord() => _sources.AddRange(Source);

    protected override void EndProcessing()
    {
        // -Debug: the SQL the listeners run, written as they go (FlushTrace in the loop) and at the end.
        using var trace = TraceScope();
        try
        {
            Listen();
        }
        finally
        {
            FlushTrace();
        }
    }

    private void Listen()
    {
        _settings = Settings();
        var running = new List<Running>();
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(StopToken);
        Task all = Task.CompletedTask;
        var stoppedByUser = false;
        var timedOut = false;
        long written = 0;
        try
        {
            for (var index = 0; index < _sources.Count; index++)
            {
                if (Prepare(_sources[index], index) is { } prepared)
                {
                    running.Add(prepared);
                }
            }
            if (running.Count == 0)
            {
                return;
            }

            foreach (var item in running)
            {
                item.Start(this, stopping.Token);
                WriteVerbose(Describe(item));
            }
            all = Task.WhenAll(running.Select(r => r.Run!));
            var deadline = MyInvocation.BoundParameters.ContainsKey(nameof(Timeout)) ? DateTime.UtcNow.AddSeconds(Timeout) : DateTime.MaxValue;
            var nextProgress = DateTime.UtcNow.AddSeconds(1);
            var limit = MyInvocation.BoundParameters.ContainsKey(nameof(MaxEvents)) ? MaxEvents : long.MaxValue;
            try
            {
                while (true)
                {
                    FlushTrace();
                    written += DrainInbox(limit - written);
                    var finished = written + running.Where(r => !r.ToPipeline).Sum(r => r.Listener.Statistics.Finished);
                    if (finished >= limit || (all.IsCompleted && _inbox.IsEmpty))
                    {
                        break;
                    }
                    if (DateTime.UtcNow >= deadline)
                    {
                        timedOut = true;
                        break;
                    }
                    if (DateTime.UtcNow >= nextProgress && running.Any(r => !r.ToPipeline))
                    {
                        WriteProgress(new ProgressRecord(ProgressId, "Start-PgSourceListener", Status(running)));
                        nextProgress = DateTime.UtcNow.AddSeconds(1);
                    }
                    _inbox.Wait(TimeSpan.FromMilliseconds(250), StopToken);
                }
            }
            catch (OperationCanceledException) when (StopToken.IsCancellationRequested)
            {
                stoppedByUser = true;
            }

            // Stop every listener: hand-offs not written are cancelled at once (never acknowledged), sinks get a short drain.
            StopListeners(stopping, all);
            if (stoppedByUser)
            {
                // The pipeline is stopping and its streams refuse writes; the host can still tell the user what was not delivered.
                WarnThroughHost();
                return;
            }
            // What the listeners reported while stopping: failures and undelivered sink events are not dropped silently.
            DrainInbox(0);
            if (running.Any(r => !r.ToPipeline))
            {
                WriteProgress(new ProgressRecord(ProgressId, "Start-PgSourceListener", Status(running)) { RecordType = ProgressRecordType.Completed });
            }
            foreach (var item in running)
            {
                if (item.SnapshotProgress.TakeCompletion() is { } completed)
                {
                    WriteProgress(completed);
                }
            }
            foreach (var item in running)
            {
                WriteVerbose($"{item.Source}: {item.Listener.Statistics}");
            }
            var total = written + running.Where(r => !r.ToPipeline).Sum(r => r.Listener.Statistics.Finished);
            if (timedOut && limit != long.MaxValue && total < limit)
            {
                WriteError(new ErrorRecord(
                    new TimeoutException($"Received {total} of {limit} events within {Timeout} s."),
                    ErrorIds.OperationTimeout, ErrorCategory.OperationTimeout, _sources.Count == 1 ? _sources[0] : _sources.ToArray()));
            }
        }
        finally
        {
            // However the command ends (a downstream Select-Object -First, Ctrl+C, an error), the listeners finish what
            // was taken before they are disposed: disposing the captures writes those acknowledgements.
            StopListeners(stopping, all);
            foreach (var item in running)
            {
                item.Dispose();
            }
        }
    }

    /// <summary>Stops the listeners and waits (bounded) until they have finished; safe to call again.</summary>
    private void StopListeners(CancellationTokenSource stopping, Task all)
    {
        stopping.Cancel();
        CancelHandoffs();
        if (!all.IsCompleted)
        {
            all.ContinueWith(_ => { }, TaskScheduler.Default).Wait(StopWait);
        }
        // A hand-off queued while stopping is not written either.
        CancelHandoffs();
    }

    /// <summary>The parameters as the core's listener settings; an impossible combination ends the command before anything starts.</summary>
    private ListenerSettings Settings()
    {
        var bound = MyInvocation.BoundParameters;
        if (Ordering == PgSourceDeliveryOrder.Commit && bound.ContainsKey(nameof(MaxInFlight)) && MaxInFlight > 1)
        {
            ThrowTerminatingError(new ErrorRecord(
                new ArgumentException($"-MaxInFlight {MaxInFlight} needs -Ordering Key or Unordered: commit order allows one delivery in flight."),
                ErrorIds.InvalidParameter, ErrorCategory.InvalidArgument, MaxInFlight)
            {
                ErrorDetails = new ErrorDetails($"-MaxInFlight {MaxInFlight} needs -Ordering Key or Unordered: commit order allows one delivery in flight.")
                {
                    RecommendedAction = "Add -Ordering Key (changes to one row stay in order) or -Ordering Unordered, or leave -MaxInFlight out.",
                },
            });
        }
        try
        {
            // What is asked here must hold on its own; each source's spec.delivery fills what is not asked (ListenerBuilder).
            return new ListenerSettings
            {
                Sink = Sink,
                DeadLetterSink = DeadLetterSink,
                Http = new HttpSinkOptions
                {
                    ContentMode = CoreEnumMap.ToCore(ContentMode),
                    CaCertificateFile = CaCertificateFile(),
                },
                Retry = new RetryPolicy { InitialDelay = RetryDelay, MaxDelay = MaxRetryDelay },
                Delivery = new DeliveryChoices
                {
                    MaxAttempts = bound.ContainsKey(nameof(MaxAttempts)) ? MaxAttempts : null,
                    MaxRetryTime = bound.ContainsKey(nameof(MaxRetryTime)) ? MaxRetryTime : null,
                    Ordering = bound.ContainsKey(nameof(Ordering)) ? CoreEnumMap.ToCore(Ordering) : null,
                    MaxInFlight = bound.ContainsKey(nameof(MaxInFlight)) ? MaxInFlight : null,
                    OnUndeliverable = bound.ContainsKey(nameof(OnUndeliverable)) ? CoreEnumMap.ToCore(OnUndeliverable) : null,
                },
                Listener = new ListenerOptions
                {
                    QueueCapacity = QueueCapacity,
                    MaxEvents = bound.ContainsKey(nameof(MaxEvents)) ? MaxEvents : null,
                },
                Capture = new CaptureOptions
                {
                    // A wrong host is an error at once, not a hang.
                    RetryInitialConnection = false,
                    Snapshot = Snapshot,
                    FailWhenBusy = !Standby,
                    Peek = Peek,
                    JournalPollInterval = PollInterval,
                },
            }.Validate();
        }
        catch (ArgumentOutOfRangeException ex)
        {
            ThrowTerminatingError(new ErrorRecord(ex, ErrorIds.InvalidParameter, ErrorCategory.InvalidArgument, ex.ActualValue));
            throw; // not reached
        }
    }

    private string Describe(Running item)
    {
        var what = item.Peek
            ? $"Reading the waiting changes of {item.Source} ({item.Source.Mode} mode) without consuming them; "
            : $"Listening for {item.Source} ({item.Source.Mode} mode, channel {item.Channel}{JournalPolling(item)}); ";
        if (item.ToPipeline)
        {
            return what + "writing events to the pipeline.";
        }
        var options = item.Listener.Options;
        var undeliverable = options.OnUndeliverable == UndeliverableAction.Skip ? "skipped (reported)" : "stop the listener";
        var order = options.EffectiveOrdering switch
        {
            DeliveryOrder.Key => "per-key order",
            DeliveryOrder.Unordered => "no order",
            _ => "commit order",
        };
        return what + $"delivering to {item.Listener.Deliverer.Sink.Description}: {order}, " +
               $"{options.MaxConcurrentDeliveries} in flight, retries: {item.Listener.Deliverer.Policy.DescribeLimit()}, undeliverable changes {undeliverable}.";
    }

    /// <summary>-CaCertificatePath as a file system path; a path no file can be at ends the command before anything starts.</summary>
    private string? CaCertificateFile()
    {
        if (CaCertificatePath is null)
        {
            return null;
        }
        try
        {
            return GetUnresolvedProviderPathFromPSPath(CaCertificatePath);
        }
        catch (Exception ex) when (ex is ProviderNotFoundException or System.Management.Automation.DriveNotFoundException or NotSupportedException or PSArgumentException or PSInvalidOperationException)
        {
            ThrowTerminatingError(new ErrorRecord(ex, ErrorIds.InvalidParameter, ErrorCategory.InvalidArgument, CaCertificatePath)
            {
                ErrorDetails = new ErrorDetails($"-CaCertificatePath '{CaCertificatePath}' is not a file system path: {ex.Message}")
                {
                    RecommendedAction = "Give the path of a PEM file on a file system drive.",
                },
            });
            throw; // not reached
        }
    }

    private string JournalPolling(Running item) => item.Source.Definition.Mode == CaptureMode.Durable && !item.Peek
        ? $", journal read at least every {_settings!.Capture.JournalPollInterval.TotalMilliseconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} ms"
        : string.Empty;

    /// <summary>Builds one source's listener, or writes why it cannot run.</summary>
    private Running? Prepare(PgSource source, int index)
    {
        try
        {
            var definition = source.Definition;
            var connection = RequireConnection(definition);
            var toPipeline = ListenerBuilder.SinkUrl(definition, _settings!) is null;
            // Always watched: a snapshot requested at install runs without -Snapshot too.
            var snapshotProgress = new SnapshotProgressView(ProgressId + 1 + index, source.ToString(), Enqueue);
            // One consumer per source in the at-least-once modes: the adapter's lock; busy is an error unless -Standby.
            var singleActive = !Peek && definition.Mode is CaptureMode.Durable or CaptureMode.Logical;
            if (Standby && !singleActive)
            {
                WriteVerbose($"{source}: -Standby has no effect in {definition.Mode} mode: every Notify listener gets every change.");
            }
            var settings = _settings! with
            {
                Capture = _settings.Capture with { SnapshotProgress = snapshotProgress.Reporter, SingleActive = singleActive },
                // Events not yet taken by the pipeline are simply not acknowledged; a sink gets a moment to finish.
                Listener = _settings.Listener with { DrainTimeout = toPipeline ? TimeSpan.Zero : SinkDrainTimeout },
            };
            var listener = ListenerBuilder.Build(definition, connection, settings, inProcessSink: new CallbackSink(HandOffAsync, "pipeline"));
            var channel = listener.Capture is NotifyCapture notify ? notify.Channel : definition.DatabaseObjectName;
            return new Running(source, listener, toPipeline, channel, snapshotProgress, Peek);
        }
        catch (ArgumentOutOfRangeException ex)
        {
            // What was asked, merged with the source's spec.delivery, does not hold (for example commit order with more in flight).
            WriteError(new ErrorRecord(ex, ErrorIds.InvalidSink, ErrorCategory.InvalidArgument, source));
        }
        catch (ArgumentException ex)
        {
            WriteError(new ErrorRecord(ex, ErrorIds.InvalidSink, ErrorCategory.InvalidArgument, source)
            {
                ErrorDetails = new ErrorDetails(ex.Message)
                {
                    RecommendedAction = "Pass -Sink (and -DeadLetterSink) as absolute http or https URLs; without -Sink, events go to the pipeline unless the source names a sink of its own.",
                },
            });
        }
        catch (Exception ex) when (ex is FileNotFoundException or InvalidDataException or System.Security.Cryptography.CryptographicException)
        {
            WriteError(new ErrorRecord(ex, ErrorIds.InvalidSink, ErrorCategory.InvalidArgument, CaCertificatePath));
        }
        catch (FormatException ex)
        {
            // For example a ceOverrides name CloudEvents reserves (source, type, ...).
            WriteError(new ErrorRecord(ex, ErrorIds.InvalidSource, ErrorCategory.InvalidArgument, source));
        }
        catch (NotSupportedException ex) when (Peek)
        {
            WriteError(new ErrorRecord(ex, ErrorIds.PeekNotSupported, ErrorCategory.NotImplemented, source)
            {
                ErrorDetails = new ErrorDetails(ex.Message)
                {
                    RecommendedAction = "Run Get-PgSourceTrigger to see the backlog (a Logical source's slot: SlotActive, ConfirmedFlushLsn, RetainedWalBytes); -Peek reads Durable sources.",
                },
            });
        }
        catch (NotSupportedException ex)
        {
            WriteError(new ErrorRecord(ex, ErrorIds.InvalidSource, ErrorCategory.NotImplemented, source));
        }
        catch (Exception ex) when (ex is not PipelineStoppedException)
        {
            WriteFailure(ex, source);
        }
        return null;
    }

    /// <summary>
    /// The pipeline sink: queue the event for the pipeline thread and wait until it was written. Cancellation
    /// cancels the hand-off unless the pipeline thread is writing it (then that thread decides): a cancelled
    /// hand-off throws <see cref="OperationCanceledException"/>, which the listener never acknowledges.
    /// </summary>
    private async ValueTask HandOffAsync(EventRecord record, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var handoff = new PipelineHandoff<EventRecord>(record);
        using (cancellationToken.Register(static h => ((PipelineHandoff<EventRecord>)h!).Cancel(), handoff))
        {
            Enqueue(handoff);
            await handoff.Taken.Task.ConfigureAwait(false);
        }
    }

    /// <summary>Writes what the background tasks queued; returns how many events it wrote (at most <paramref name="room"/>).</summary>
    private long DrainInbox(long room)
    {
        long written = 0;
        while (_inbox.TryTake(out var next))
        {
            switch (next)
            {
                case PipelineHandoff<EventRecord> handoff when written >= room:
                    // No room (-MaxEvents reached across sources, or the final drain): not written, not acknowledged.
                    handoff.Cancel();
                    break;
                case PipelineHandoff<EventRecord> handoff:
                    if (WriteHandoff(handoff))
                    {
                        written++;
                    }
                    break;
                case Reported reported:
                    WriteReport(reported);
                    break;
                case Failure { Exception: UndeliverableChangeException undeliverable } failure:
                    if (undeliverable.ChangeId is { } id && _failedIds.Contains(id))
                    {
                        // Already written from the listener's report: the listener stopped on that change.
                        WriteVerbose($"{failure.Source}: {undeliverable.Message}");
                    }
                    else
                    {
                        WriteError(DeliveryFailedRecord(undeliverable, failure.Source));
                    }
                    break;
                case Failure failure:
                    WriteFailure(failure.Exception, failure.Source);
                    break;
                case SnapshotProgressView snapshot when snapshot.TakeRecord() is { } record:
                    WriteProgress(record);
                    break;
            }
        }
        return written;
    }

    /// <summary>Writes one event; true when it was taken. Exceptions out of WriteObject go on after the hand-off is settled.</summary>
    private bool WriteHandoff(PipelineHandoff<EventRecord> handoff)
    {
        if (!handoff.TryClaim())
        {
            // Cancelled before the pipeline thread got to it.
            return false;
        }
        var taken = false;
        var receivedBefore = DownstreamStop.ReceivedDownstream(this);
        try
        {
            WriteObject(new PgSourceEvent(handoff.Item));
            taken = true;
        }
        catch (Exception ex) when (DownstreamStop.StoppedAfterTaking(this, ex, receivedBefore))
        {
            // A downstream Select-Object -First n took the object, then stopped the commands before it.
            taken = true;
            throw;
        }
        finally
        {
            // Anything else (the pipeline already stopping, Ctrl+C, a downstream error): not taken, never acknowledged.
            handoff.Complete(taken);
        }
        return true;
    }

    private void WriteReport(Reported reported)
    {
        var report = reported.Report;
        switch (report.Kind)
        {
            case ListenerReportKind.DeliveryFailed when reported.OnUndeliverable == UndeliverableAction.Skip:
                // A Skipped report follows for the same change: that one is the error record.
                WriteVerbose($"{reported.Source}: {report.Message}");
                break;
            case ListenerReportKind.DeliveryFailed:
                if (report.Event?.Id is { } failedId)
                {
                    _failedIds.Add(failedId);
                }
                WriteError(DeliveryFailedRecord(new UndeliverableChangeException(report.Message, report.Event, report.Event?.Id, report.StatusCode), reported.Source));
                break;
            case ListenerReportKind.Skipped:
                WriteError(new ErrorRecord(new InvalidOperationException(report.Message), ErrorIds.ChangeSkipped, Category(report.Event, report.StatusCode),
                    report.Event is null ? reported.Source : new PgSourceEvent(report.Event))
                {
                    ErrorDetails = new ErrorDetails(report.Message)
                    {
                        RecommendedAction = "Nothing more is sent for this change (-OnUndeliverable Skip acknowledged it); the event is this error's target if it must be replayed. Set -DeadLetterSink to keep such events.",
                    },
                });
                break;
            case ListenerReportKind.Undelivered when reported.ToPipeline:
                // An event the pipeline did not ask for any more: not taken, not acknowledged.
                break;
            case ListenerReportKind.Undelivered:
                WriteWarning(report.Message);
                break;
            case ListenerReportKind.DeadLettered:
                WriteWarning(report.Message);
                break;
            case ListenerReportKind.CaptureNotice when report.PossibleLoss:
            case ListenerReportKind.TableChanged:
                WriteWarning($"{reported.Source}: {report.Message}");
                break;
            default:
                WriteVerbose($"{reported.Source}: {report.Message}");
                break;
        }
    }

    /// <summary>PgSource.DeliveryFailed: the change nobody took, with the event as target; the listener stops on it unless -OnUndeliverable Skip.</summary>
    private static ErrorRecord DeliveryFailedRecord(UndeliverableChangeException exception, PgSource source)
    {
        var message = exception.ChangeId is { } id && !exception.Message.Contains(id, StringComparison.Ordinal)
            ? $"Event {id}: {exception.Message}"
            : exception.Message;
        return new ErrorRecord(exception, ErrorIds.DeliveryFailed, Category(exception.Event, exception.StatusCode),
            exception.Event is null ? source : new PgSourceEvent(exception.Event))
        {
            ErrorDetails = new ErrorDetails(message)
            {
                RecommendedAction = "Fix the sink (its answer is in the message); or set -DeadLetterSink to keep events it refuses, " +
                                    "or -OnUndeliverable Skip to go on without them. In Durable and Logical mode the change stays unacknowledged and is sent again by the next listener.",
            },
        };
    }

    /// <summary>No event could be made: InvalidData; the sink answered: InvalidResult; it never answered: ConnectionError.</summary>
    private static ErrorCategory Category(EventRecord? @event, int? statusCode) =>
        @event is null ? ErrorCategory.InvalidData : statusCode is null ? ErrorCategory.ConnectionError : ErrorCategory.InvalidResult;

    private void WarnThroughHost()
    {
        while (_inbox.TryTake(out var item))
        {
            if (item is Reported { ToPipeline: false, Report.Kind: ListenerReportKind.Undelivered or ListenerReportKind.DeliveryFailed or ListenerReportKind.Skipped } reported)
            {
                try
                {
                    Host?.UI?.WriteWarningLine(reported.Report.Message);
                }
                catch (Exception ex) when (ex is PipelineStoppedException or InvalidOperationException or NotImplementedException or System.Management.Automation.Host.HostException)
                {
                    return;
                }
            }
            else if (item is PipelineHandoff<EventRecord> handoff)
            {
                handoff.Cancel();
            }
        }
    }

    private void CancelHandoffs()
    {
        foreach (var item in _inbox.Pending)
        {
            if (item is PipelineHandoff<EventRecord> handoff)
            {
                handoff.Cancel();
            }
        }
    }

    private static string Status(IEnumerable<Running> running) =>
        string.Join("; ", running.Where(r => !r.ToPipeline).Select(r => $"{r.Source}: {r.Listener.Statistics}"));

    private void Enqueue(object item)
    {
        _inbox.Post(item);
    }

    private sealed record Reported(PgSource Source, ListenerReport Report, bool ToPipeline, UndeliverableAction OnUndeliverable);

    private sealed record Failure(PgSource Source, Exception Exception);

    private sealed class Running(PgSource source, SourceListener listener, bool toPipeline, string channel, SnapshotProgressView snapshotProgress, bool peek) : IDisposable
    {
        public PgSource Source { get; } = source;
        public SnapshotProgressView SnapshotProgress { get; } = snapshotProgress;
        public SourceListener Listener { get; } = listener;
        public bool ToPipeline { get; } = toPipeline;
        public string Channel { get; } = channel;
        public bool Peek { get; } = peek;
        public Task? Run { get; private set; }

        public void Start(StartPgSourceListenerCommand command, CancellationToken cancellationToken)
        {
            Listener.Reported += report => command.Enqueue(new Reported(Source, report, ToPipeline, Listener.Options.OnUndeliverable));
            Run = Task.Run(async () =>
            {
                try
                {
                    await Listener.RunAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                }
                catch (Exception ex)
                {
                    command.Enqueue(new Failure(Source, ex));
                }
            }, CancellationToken.None);
        }

        public void Dispose()
        {
            // Closes the connections; the captures write what was acknowledged first (Durable deletes, Logical position).
            Listener.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(5));
        }
    }
}
