using PostgresSource.Core.Capture;
using PostgresSource.Core.Delivery;

namespace PostgresSource.Core.Listening;

/// <summary>
/// Everything a host chooses for running a source's listener, in one record: where events go, how they are sent
/// and retried, what the host asked of delivery, the listener's and the capture's options. The cmdlet fills it from
/// its parameters, the adapter from its environment; <see cref="ListenerBuilder"/> turns it into a listener.
/// </summary>
internal sealed record ListenerSettings
{
    /// <summary>The sink URL; null: the source's own sink URL, else the host's in-process sink.</summary>
    public Uri? Sink { get; init; }

    /// <summary>The dead-letter sink URL; null: the source's own (spec.delivery.deadLetterSink) when it is a URL.</summary>
    public Uri? DeadLetterSink { get; init; }

    public HttpSinkOptions Http { get; init; } = HttpSinkOptions.Default;

    /// <summary>How the dead-letter sink is reached (its own CA certificates and token); null: as <see cref="Http"/>.</summary>
    public HttpSinkOptions? DeadLetterHttp { get; init; }

    /// <summary>The delays; the limits come from <see cref="Delivery"/> over the source's spec.delivery.</summary>
    public RetryPolicy Retry { get; init; } = RetryPolicy.Default;

    /// <summary>What the host was asked explicitly; the source's spec.delivery fills the rest.</summary>
    public DeliveryChoices Delivery { get; init; } = new();

    /// <summary>The queue, drain and event settings (the order and in-flight count come from <see cref="Delivery"/>).</summary>
    public ListenerOptions Listener { get; init; } = ListenerOptions.Default;

    public CaptureOptions Capture { get; init; } = CaptureOptions.Default;

    /// <summary>
    /// Checks what was asked on its own, before any source is read, so a bad combination fails before anything starts.
    /// The sinks are checked per source, by <see cref="ListenerBuilder"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range, or the asked order and in-flight count conflict.</exception>
    public ListenerSettings Validate()
    {
        var (options, policy) = Delivery.ApplyTo(Listener, Retry, null);
        options.Validate();
        policy.Validate();
        Capture.Validate();
        return this;
    }
}
