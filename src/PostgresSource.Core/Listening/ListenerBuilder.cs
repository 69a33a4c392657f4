using PostgresSource.Core.Capture;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Listening;

/// <summary>
/// The one place a source's listener is assembled, for every host: sink and dead-letter sink (checked), retry and
/// delivery choices merged over the source's spec.delivery, row keys for key order, and the capture.
/// </summary>
internal static class ListenerBuilder
{
    /// <summary>The sink URL the source's events go to, or null when the host's in-process sink takes them.</summary>
    /// <exception cref="ArgumentException">The source's sink is a reference (only a cluster resolves it), or not an http or https URL.</exception>
    public static Uri? SinkUrl(SourceDefinition source, ListenerSettings settings)
    {
        var uri = settings.Sink ?? source.Sink?.Uri;
        if (uri is null && source.Sink?.IsRef == true)
        {
            throw new ArgumentException(
                $"The sink of {source.EventSource} is a reference ({source.Sink}) that only a cluster can resolve; give a sink URL instead, or none to take the events in process.");
        }
        return uri is null ? null : SinkAddress.Require(uri);
    }

    /// <summary>
    /// Builds the listener. Events go to the sink URL (<see cref="SinkUrl"/>) or, without one, to
    /// <paramref name="inProcessSink"/>, which then also has no dead-letter sink. The listener owns what it is given.
    /// </summary>
    /// <param name="rowKeys">The tables' primary keys for key order; null: read when the listener first needs them.</param>
    /// <exception cref="ArgumentException">No sink at all, or a sink is not an http or https URL.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The merged settings are out of range.</exception>
    /// <exception cref="NotSupportedException">The mode has no capture here, or cannot peek.</exception>
    public static SourceListener Build(SourceDefinition source, ConnectionSettings connection, ListenerSettings settings,
        IEventSink? inProcessSink = null, RowKeyIndex? rowKeys = null)
    {
        var sinkUri = SinkUrl(source, settings);
        if (sinkUri is null && inProcessSink is null)
        {
            throw new ArgumentException($"Source {source.EventSource} has no sink to deliver to.");
        }
        // The source's own dead-letter sink when it is a URL (a ref needs a cluster to resolve it); checked also when
        // the events stay in process, where it is not used, so a wrong one is reported wherever it was given.
        var deadLetterUri = settings.DeadLetterSink ?? (source.Delivery?.DeadLetterSink is { IsRef: false, Uri: { } own } ? own : null);
        if (deadLetterUri is not null)
        {
            SinkAddress.Require(deadLetterUri, "dead-letter sink");
        }
        if (sinkUri is null)
        {
            deadLetterUri = null;
        }
        var (options, policy) = settings.Delivery.ApplyTo(settings.Listener, settings.Retry, source.Delivery);
        options = options with
        {
            RowKeys = options.EffectiveOrdering == DeliveryOrder.Key ? rowKeys ?? RowKeyIndex.Deferred(connection, source) : null,
            Tables = options.Tables ?? new WatchedTables(source, connection),
        };
        options.Validate();
        policy.Validate();

        // The sinks first: a CA file that cannot be read fails here, before a capture exists to be cleaned up.
        var sink = sinkUri is null ? inProcessSink! : new HttpEventSink(sinkUri, settings.Http);
        var deadLetter = deadLetterUri is null ? null : new HttpEventSink(deadLetterUri, settings.DeadLetterHttp ?? settings.Http);
        IChangeCapture? capture = null;
        try
        {
            capture = ChangeCaptureFactory.Create(source, connection, settings.Capture);
            return new SourceListener(source, capture, new EventDeliverer(sink, policy, deadLetter), options);
        }
        catch
        {
            // Nothing was started: each disposal completes at once (HttpEventSink only disposes its HttpClient).
            capture?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            if (sinkUri is not null) sink.DisposeAsync().AsTask().GetAwaiter().GetResult();
            deadLetter?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }
}
