using System.Globalization;
using System.Xml;
using PostgresSource.Core.Delivery;

namespace PostgresSource.Core.Sources;

/// <summary>
/// A source's delivery choices (the custom resource's <c>spec.delivery</c>). Every field is optional: unset
/// means the adapter's default (stop on an undeliverable change, commit order, one delivery in flight, no retry
/// limit, no dead-letter sink), and an unset field is written nowhere, so a seed YAML reads and writes unchanged.
/// </summary>
internal sealed record SourceDelivery
{
    /// <summary>The most deliveries in flight the adapter accepts (PGSOURCE_MAX_IN_FLIGHT).</summary>
    public const int MaxInFlightLimit = 1000;

    /// <summary><c>onUndeliverable</c>: stop (the adapter's default) or skip a change nobody will take. PGSOURCE_ON_UNDELIVERABLE.</summary>
    public UndeliverableAction? OnUndeliverable { get; init; }

    /// <summary><c>ordering</c>: commit (the adapter's default), key or unordered. PGSOURCE_ORDERING.</summary>
    public DeliveryOrder? Ordering { get; init; }

    /// <summary><c>maxInFlight</c>: deliveries in flight at once (1 to 1000); commit order allows only 1. PGSOURCE_MAX_IN_FLIGHT.</summary>
    public int? MaxInFlight { get; init; }

    /// <summary>
    /// <c>retry</c>, as Knative's DeliverySpec.retry: how many times a failed delivery is retried (0: never) before the
    /// change goes to the dead-letter sink or to <see cref="OnUndeliverable"/>. Null: no limit. PGSOURCE_DELIVERY_ATTEMPTS
    /// carries attempts in all, so retry + 1 (see <see cref="MaxAttempts"/>).
    /// </summary>
    public int? Retry { get; init; }

    /// <summary><c>retryTime</c>: how long one change may be retried, from its first attempt. Null: no limit. PGSOURCE_DELIVERY_MAX_RETRY_TIME.</summary>
    public TimeSpan? RetryTime { get; init; }

    /// <summary><c>deadLetterSink</c>, a Knative Destination (a uri, or a ref with an optional relative uri). PGSOURCE_DEAD_LETTER_SINK once resolved.</summary>
    public SinkReference? DeadLetterSink { get; init; }

    /// <summary>Attempts in all (the first one included), as <see cref="RetryPolicy.MaxAttempts"/> counts them.</summary>
    public int? MaxAttempts => Retry + 1;

    /// <summary>True when no field is set (then spec.delivery is not written).</summary>
    public bool IsEmpty =>
        OnUndeliverable is null && Ordering is null && MaxInFlight is null && Retry is null && RetryTime is null && DeadLetterSink is null;

    /// <summary>Throws <see cref="SourceValidationException"/> naming the field (delivery.&lt;field&gt;, relative to spec).</summary>
    public SourceDelivery Validate()
    {
        if (OnUndeliverable is { } action && !Enum.IsDefined(action))
        {
            throw new SourceValidationException("delivery.onUndeliverable", $"'{action}' is not one of stop, skip.");
        }
        if (Ordering is { } order && !Enum.IsDefined(order))
        {
            throw new SourceValidationException("delivery.ordering", $"'{order}' is not one of commit, key, unordered.");
        }
        if (MaxInFlight is { } inFlight)
        {
            if (inFlight is < 1 or > MaxInFlightLimit)
            {
                throw new SourceValidationException("delivery.maxInFlight", $"{inFlight} is not a whole number from 1 to {MaxInFlightLimit}.");
            }
            if (Ordering == DeliveryOrder.Commit && inFlight > 1)
            {
                throw new SourceValidationException("delivery.maxInFlight",
                    $"commit order allows one delivery in flight, not {inFlight}: choose ordering key or unordered for more.");
            }
        }
        if (Retry is < 0 or int.MaxValue)
        {
            throw new SourceValidationException("delivery.retry", $"{Retry} is not a number of retries (a whole number from 0 up; 0: no retry).");
        }
        if (RetryTime is { } time && time < TimeSpan.Zero)
        {
            throw new SourceValidationException("delivery.retryTime", $"{FormatDuration(time)} is negative.");
        }
        if (DeadLetterSink is { } sink)
        {
            ValidateDestination(sink, "delivery.deadLetterSink");
        }
        return this;
    }

    /// <summary>The words the custom resource and the adapter variables use: stop, skip.</summary>
    public static string ToText(UndeliverableAction action) => action.ToString().ToLowerInvariant();

    /// <summary>The words the custom resource and the adapter variables use: commit, key, unordered.</summary>
    public static string ToText(DeliveryOrder order) => order.ToString().ToLowerInvariant();

    public static bool TryParseUndeliverable(string text, out UndeliverableAction action)
    {
        (var ok, action) = text switch
        {
            "stop" => (true, UndeliverableAction.Stop),
            "skip" => (true, UndeliverableAction.Skip),
            _ => (false, default),
        };
        return ok;
    }

    public static bool TryParseOrdering(string text, out DeliveryOrder order)
    {
        (var ok, order) = text switch
        {
            "commit" => (true, DeliveryOrder.Commit),
            "key" => (true, DeliveryOrder.Key),
            "unordered" => (true, DeliveryOrder.Unordered),
            _ => (false, default),
        };
        return ok;
    }

    /// <summary>An ISO 8601 duration as Knative writes them (PT10M, PT0.5S, P1D).</summary>
    public static string FormatDuration(TimeSpan value) => XmlConvert.ToString(value);

    /// <summary>Reads an ISO 8601 duration (PT10M, PT1H30M, PT0.5S, P1D); false for anything else, negative ones included.</summary>
    public static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = default;
        if (text.Length < 2 || text[0] != 'P')
        {
            return false;
        }
        try
        {
            value = XmlConvert.ToTimeSpan(text);
            return true;
        }
        catch (Exception ex) when (ex is FormatException or OverflowException)
        {
            return false;
        }
    }

    private static void ValidateDestination(SinkReference sink, string field)
    {
        if (sink.IsRef)
        {
            if (string.IsNullOrWhiteSpace(sink.RefApiVersion) || string.IsNullOrWhiteSpace(sink.RefKind) || string.IsNullOrWhiteSpace(sink.RefName))
            {
                throw new SourceValidationException(field + ".ref", "needs apiVersion, kind and name.");
            }
            if (sink.Uri is { IsAbsoluteUri: true } absolute && !SinkAddress.IsHttp(absolute))
            {
                throw new SourceValidationException(field + ".uri", $"'{absolute.OriginalString}' is not an http or https URL.");
            }
            return;
        }
        if (sink.Uri is not { IsAbsoluteUri: true } uri || !SinkAddress.IsHttp(uri))
        {
            throw new SourceValidationException(field,
                $"needs a ref or an absolute http or https uri{(sink.Uri is null ? string.Empty : $", not '{sink.Uri.OriginalString}'")}.");
        }
    }

    public override string ToString()
    {
        var parts = new List<string>();
        if (OnUndeliverable is { } action) parts.Add("onUndeliverable=" + ToText(action));
        if (Ordering is { } order) parts.Add("ordering=" + ToText(order));
        if (MaxInFlight is { } inFlight) parts.Add("maxInFlight=" + inFlight.ToString(CultureInfo.InvariantCulture));
        if (Retry is { } retry) parts.Add("retry=" + retry.ToString(CultureInfo.InvariantCulture));
        if (RetryTime is { } time) parts.Add("retryTime=" + FormatDuration(time));
        if (DeadLetterSink is { } sink) parts.Add("deadLetterSink=" + sink);
        return string.Join(", ", parts);
    }
}
