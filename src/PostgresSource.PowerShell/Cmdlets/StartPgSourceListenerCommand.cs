using System.Collections.Concurrent;
using System.Management.Automation;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Events;
using PostgresSource.Core.Listening;
using PostgresSource.Core.Sources;
using PostgresSource.PowerShell.Infrastructure;

namespace PostgresSource.PowerShell.Cmdlets;

/// <summary>
/// Listens to sources in the foreground. With a sink (-Sink or the source's), delivers CloudEvents
/// until stopped and shows counts as progress; without one, writes each event to the pipeline. An
/// initial snapshot shows its own progress bar per source.
/// Background tasks only queue work; every Write* happens here, on the pipeline thread.
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "PgSourceListener")]
[OutputType(typeof(PgSourceEvent))]
public sealed class StartPgSourceListenerCommand : PgSourceCmdlet
{
    private const int ProgressId = 0x5047;
    private static readonly TimeSpan SinkDrainTimeout = TimeSpan.FromMilliseconds(250);

    private readonly List<PgSource> _sources = [];
    private readonly ConcurrentQueue<object> _inbox = new();
    private readonly SemaphoreSlim _signal = new(0);

    [Parameter(Mandatory = true, ValueFromPipeline = true, Position = 0)]
    [ValidateNotNull]
    public PgSource[] Source { get; set; } = [];

    /// <summary>Deliver here instead of the source's own sink (an http or https URL).</summary>
    [Parameter]
    public Uri? Sink { get; set; }

    [Parameter]
    public string? ConnectionString { get; set; }

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

    /// <summary>The wait before the first retry, doubled for each one after (with jitter).</summary>
    [Parameter]
    public TimeSpan RetryDelay { get; set; } = RetryPolicy.Default.InitialDelay;

    [Parameter]
    public TimeSpan MaxRetryDelay { get; set; } = RetryPolicy.Default.MaxDelay;

    /// <summary>Where an event goes when the sink refuses it or every attempt failed.</summary>
    [Parameter]
    public Uri? DeadLetterSink { get; set; }

    /// <summary>Durable and Logical: emit every existing row once, as a read event, before streaming (resumes if interrupted).</summary>
    [Parameter]
    public SwitchParameter Snapshot { get; set; }

    /// <summary>A PEM file with the CA certificate(s) that sign an HTTPS sink's certificate.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? CaCertificatePath { get; set; }

    /// <summary>The most events held in memory at once; reading from the database pauses while it is full.</summary>
    [Parameter]
    [ValidateRange(1, 100_000)]
    public int QueueCapacity { get; set; } = ListenerOptions.Default.QueueCapacity;

    protected override void ProcessRecord() => _sources.AddRange(Source);

    protected override void EndProcessing()
    {
        var running = new List<Running>();
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

            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(StopToken);
            foreach (var item in running)
            {
                item.Start(stopping.Token, this);
                WriteVerbose($"Listening for {item.Source} ({item.Source.Mode} mode, channel {item.Channel}); " +
                             (item.ToPipeline ? "writing events to the pipeline." : $"delivering to {item.Listener.Deliverer.Sink.Description}."));
            }
            var all = Task.WhenAll(running.Select(r => r.Run!));
            var deadline = MyInvocation.BoundParameters.ContainsKey(nameof(Timeout)) ? DateTime.UtcNow.AddSeconds(Timeout) : DateTime.MaxValue;
            var nextProgress = DateTime.UtcNow.AddSeconds(1);
            var limit = MyInvocation.BoundParameters.ContainsKey(nameof(MaxEvents)) ? MaxEvents : long.MaxValue;
            try
            {
                while (true)
                {
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
                    _signal.Wait(TimeSpan.FromMilliseconds(250), StopToken);
                }
            }
            catch (OperationCanceledException) when (StopToken.IsCancellationRequested)
            {
                stoppedByUser = true;
            }

            // Stop every listener: pipeline hand-offs are cancelled at once, sinks get a short drain.
            stopping.Cancel();
            CancelHandoffs();
            all.ContinueWith(_ => { }, TaskScheduler.Default).Wait(TimeSpan.FromSeconds(10));
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
            CancelHandoffs();
            foreach (var item in running)
            {
                item.Dispose();
            }
        }
    }

    /// <summary>Builds one source's listener, or writes why it cannot run.</summary>
    private Running? Prepare(PgSource source, int index)
    {
        try
        {
            var definition = source.Definition;
            var connection = RequireConnection(ConnectionString, definition);
            var sinkUri = Sink ?? definition.Sink?.Uri;
            if (sinkUri is null && definition.Sink?.IsRef == true)
            {
                throw new ArgumentException(
                    $"The sink of {source} is a reference ({definition.Sink}) that only a cluster can resolve; pass -Sink with a URL, or omit the sink to write events to the pipeline.");
            }
            ValidateSink(sinkUri, nameof(Sink));
            ValidateSink(DeadLetterSink, nameof(DeadLetterSink));
            var policy = new RetryPolicy { MaxAttempts = MyInvocation.BoundParameters.ContainsKey(nameof(MaxAttempts)) ? MaxAttempts : null, InitialDelay = RetryDelay, MaxDelay = MaxRetryDelay }.Validate();
            var httpOptions = new HttpSinkOptions
            {
                ContentMode = ContentMode == PgSourceContentMode.Structured ? EventContentMode.Structured : EventContentMode.Binary,
                CaCertificateFile = CaCertificatePath is null ? null : GetUnresolvedProviderPathFromPSPath(CaCertificatePath),
            };
            var toPipeline = sinkUri is null;
            IEventSink sink = toPipeline ? new CallbackSink(HandOffAsync, "pipeline") : new HttpEventSink(sinkUri!, httpOptions);
            var deadLetter = DeadLetterSink is null || toPipeline ? null : new HttpEventSink(DeadLetterSink, httpOptions);
            // Always watched: a snapshot requested at install runs without -Snapshot too.
            var snapshotProgress = new SnapshotProgressView(ProgressId + 1 + index, source.ToString(), Enqueue);
            var capture = ChangeCaptureFactory.Create(definition, connection,
                new CaptureOptions { RetryInitialConnection = false, Snapshot = Snapshot, SnapshotProgress = snapshotProgress.Reporter });
            var options = new ListenerOptions
            {
                QueueCapacity = QueueCapacity,
                MaxEvents = MyInvocation.BoundParameters.ContainsKey(nameof(MaxEvents)) ? MaxEvents : null,
                // Events not yet taken by the pipeline are simply not acknowledged; a sink gets a moment to finish.
                DrainTimeout = toPipeline ? TimeSpan.Zero : SinkDrainTimeout,
            };
            var listener = new SourceListener(definition, capture, new EventDeliverer(sink, policy, deadLetter), options);
            var channel = capture is NotifyCapture notify ? notify.Channel : definition.DatabaseObjectName;
            return new Running(source, listener, toPipeline, channel, snapshotProgress);
        }
        catch (ArgumentException ex)
        {
            WriteError(new ErrorRecord(ex, ErrorIds.InvalidSink, ErrorCategory.InvalidArgument, source));
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

    private static void ValidateSink(Uri? uri, string parameter)
    {
        if (uri is not null && (!uri.IsAbsoluteUri || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)))
        {
            throw new ArgumentException($"-{parameter} '{uri}' is not an absolute http or https URL.");
        }
    }

    /// <summary>The pipeline sink: queue the event for the pipeline thread and wait until it was written.</summary>
    private async ValueTask HandOffAsync(EventRecord record, CancellationToken cancellationToken)
    {
        var handoff = new Handoff(record);
        _inbox.Enqueue(handoff);
        _signal.Release();
        await handoff.Taken.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes what the background tasks queued; returns how many events it wrote (at most <paramref name="room"/>).</summary>
    private long DrainInbox(long room)
    {
        long written = 0;
        while (_inbox.TryPeek(out var next))
        {
            if (next is Handoff && written >= room)
            {
                break;
            }
            _inbox.TryDequeue(out _);
            switch (next)
            {
                case Handoff handoff:
                    try
                    {
                        WriteObject(new PgSourceEvent(handoff.Record));
                        handoff.Taken.TrySetResult();
                    }
                    catch
                    {
                        handoff.Taken.TrySetCanceled();
                        throw;
                    }
                    written++;
                    break;
                case Reported reported:
                    WriteReport(reported);
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

    private void WriteReport(Reported reported)
    {
        var report = reported.Report;
        switch (report.Kind)
        {
            case ListenerReportKind.DeliveryFailed:
                WriteError(new ErrorRecord(new InvalidOperationException(report.Message), ErrorIds.DeliveryFailed,
                    report.StatusCode is null ? ErrorCategory.ConnectionError : ErrorCategory.InvalidResult,
                    report.Event is null ? reported.Source : new PgSourceEvent(report.Event))
                {
                    ErrorDetails = new ErrorDetails(report.Message)
                    {
                        RecommendedAction = "Check the sink; set -DeadLetterSink to keep events the sink refuses.",
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
                WriteWarning($"{reported.Source}: {report.Message}");
                break;
            default:
                WriteVerbose($"{reported.Source}: {report.Message}");
                break;
        }
    }

    private void WarnThroughHost()
    {
        while (_inbox.TryDequeue(out var item))
        {
            if (item is Reported { ToPipeline: false, Report.Kind: ListenerReportKind.Undelivered or ListenerReportKind.DeliveryFailed } reported)
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
        }
    }

    private void CancelHandoffs()
    {
        foreach (var item in _inbox)
        {
            if (item is Handoff handoff)
            {
                handoff.Taken.TrySetCanceled();
            }
        }
    }

    private static string Status(IEnumerable<Running> running) =>
        string.Join("; ", running.Where(r => !r.ToPipeline).Select(r => $"{r.Source}: {r.Listener.Statistics}"));

    private void Enqueue(object item)
    {
        _inbox.Enqueue(item);
        _signal.Release();
    }

    private sealed record Handoff(EventRecord Record)
    {
        public TaskCompletionSource Taken { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed record Reported(PgSource Source, ListenerReport Report, bool ToPipeline);

    private sealed record Failure(PgSource Source, Exception Exception);

    private sealed class Running(PgSource source, SourceListener listener, bool toPipeline, string channel, SnapshotProgressView snapshotProgress) : IDisposable
    {
        public PgSource Source { get; } = source;
        public SnapshotProgressView SnapshotProgress { get; } = snapshotProgress;
        public SourceListener Listener { get; } = listener;
        public bool ToPipeline { get; } = toPipeline;
        public string Channel { get; } = channel;
        public Task? Run { get; private set; }

        public void Start(CancellationToken cancellationToken, StartPgSourceListenerCommand command)
        {
            Listener.Reported += report => command.Enqueue(new Reported(Source, report, ToPipeline));
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
            // Closes the LISTEN connection and the HTTP connections.
            Listener.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(5));
        }
    }
}
