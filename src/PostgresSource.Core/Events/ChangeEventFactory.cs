using CloudNative.CloudEvents;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Events;

/// <summary>
/// Turns a captured change into a CloudEvent 1.0 (the README's Events section): id = the change's own id when
/// the mode has a deterministic one, else a new unique id; source = the source's identity; type =
/// the source's event type; subject = schema.table; time = commit time when known, else receive time;
/// data = the seed payload verbatim; pg* extensions; then the ceOverrides, which win.
/// Every string attribute taken from the change (id, subject, pgtable, pgschema, pgtxid, pglsn) goes
/// through <see cref="AttributeText.Encode"/>, so any identifier PostgreSQL allows makes a valid event.
/// What the user configured (event type, source, ceOverrides) is checked here, at construction, so a bad
/// value is a configuration error at start rather than a failure of every event.
/// </summary>
internal sealed class ChangeEventFactory
{
    private static readonly CloudEventAttribute TableAttribute = Extension(EventAttributes.Table, CloudEventAttributeType.String);
    private static readonly CloudEventAttribute SchemaAttribute = Extension(EventAttributes.Schema, CloudEventAttributeType.String);
    private static readonly CloudEventAttribute OperationAttribute = Extension(EventAttributes.Operation, CloudEventAttributeType.String);
    private static readonly CloudEventAttribute TransactionAttribute = Extension(EventAttributes.TransactionId, CloudEventAttributeType.String);
    private static readonly CloudEventAttribute LsnAttribute = Extension(EventAttributes.Lsn, CloudEventAttributeType.String);
    private static readonly CloudEventAttribute TruncatedAttribute = Extension(EventAttributes.Truncated, CloudEventAttributeType.Boolean);
    private static readonly CloudEventAttribute ErrorAttribute = Extension(EventAttributes.Error, CloudEventAttributeType.String);

    /// <summary>The longest reason a fallback event carries in pgerror (before encoding): it travels in an HTTP header.</summary>
    internal const int MaxErrorLength = 1000;

    private readonly Uri _source;
    private readonly string _type;
    private readonly IReadOnlyList<(CloudEventAttribute Attribute, string Value)> _overrides;

    /// <param name="source">The source definition (event type, identity, its own ceOverrides).</param>
    /// <param name="eventSource">The CloudEvents source; default <see cref="SourceDefinition.EventSource"/> (the adapter's EVENT_SOURCE may replace it).</param>
    /// <param name="overrides">Extra overrides (K_CE_OVERRIDES), applied after the definition's own.</param>
    /// <exception cref="FormatException">The event source, the event type or an override is not usable in a CloudEvent.</exception>
    public ChangeEventFactory(SourceDefinition source, string? eventSource = null, IReadOnlyDictionary<string, string>? overrides = null)
    {
        var sourceText = string.IsNullOrWhiteSpace(eventSource) ? source.EventSource : eventSource;
        if (!Uri.TryCreate(sourceText, UriKind.RelativeOrAbsolute, out var uri))
        {
            throw new FormatException($"The event source '{sourceText}' is not a URI reference.");
        }
        _source = uri;
        _type = EventTypeProblem(source.EventType) is { } problem
            ? throw new FormatException($"The event type is not usable: {problem}.")
            : source.EventType;
        _overrides = CeOverrides.Merge(source.CeOverrideExtensions, overrides)
            .Select(p => (Extension(p.Key, CloudEventAttributeType.String), p.Value))
            .ToList();
    }

    /// <summary>The change's event. Throws (<see cref="ArgumentException"/>, <see cref="InvalidOperationException"/>) only if the SDK refuses it.</summary>
    public CloudEvent Create(CapturedChange change, DateTimeOffset receivedAt)
    {
        if (string.IsNullOrEmpty(change.PayloadJson))
        {
            // Every capture writes a JSON object; without one there is no application/json data to send.
            throw new ArgumentException("the change carries no payload", nameof(change));
        }
        var cloudEvent = Populate(change, receivedAt, new PayloadJson(change.PayloadJson));
        ApplyOverrides(cloudEvent);
        return cloudEvent.Validate();
    }

    /// <summary>
    /// An event for a change whose normal event cannot be built (<see cref="Create"/> threw), for a dead-letter
    /// sink: the same source and type; the change's id (encoded as every attribute from the change is) or a new
    /// one when it has none; subject and pg* extensions encoded; the ceOverrides; data = the change's payload as
    /// JSON (verbatim when it is JSON, else as one JSON string); and <c>pgerror</c> = <paramref name="reason"/>
    /// (encoded, at most 1000 characters before encoding), set last so an override cannot hide it.
    /// Does not throw for anything in the change.
    /// </summary>
    public CloudEvent CreateFallback(CapturedChange change, string reason, DateTimeOffset receivedAt)
    {
        ArgumentNullException.ThrowIfNull(change);
        var payload = change.PayloadJson is { } json && IsJson(json)
            ? new PayloadJson(json)
            : new PayloadJson(System.Text.Json.JsonSerializer.Serialize(change.PayloadJson));
        var cloudEvent = Populate(change, receivedAt, payload);
        ApplyOverrides(cloudEvent);
        var why = string.IsNullOrEmpty(reason) ? "the change's event could not be built" : reason;
        if (why.Length > MaxErrorLength)
        {
            // Cut before a surrogate pair rather than through it.
            var cut = char.IsHighSurrogate(why[MaxErrorLength - 1]) ? MaxErrorLength - 1 : MaxErrorLength;
            why = why[..cut] + "...";
        }
        cloudEvent[ErrorAttribute] = AttributeText.Encode(why);
        return cloudEvent.Validate();
    }

    /// <summary>
    /// Null when <paramref name="eventType"/> can be every event's type: not empty or blank, and no character
    /// CloudEvents forbids (control characters, noncharacters). Otherwise why not.
    /// </summary>
    public static string? EventTypeProblem(string? eventType) =>
        string.IsNullOrWhiteSpace(eventType) ? "it must not be empty"
        : AttributeText.Problem(eventType) is { } problem ? $"'{AttributeText.Encode(eventType)}' contains {problem}"
        : null;

    private CloudEvent Populate(CapturedChange change, DateTimeOffset receivedAt, PayloadJson data)
    {
        var schema = AttributeText.Encode(change.Schema ?? string.Empty);
        var table = AttributeText.Encode(change.Table ?? string.Empty);
        var cloudEvent = new CloudEvent(CloudEventsSpecVersion.V1_0)
        {
            Id = string.IsNullOrEmpty(change.Id) ? Guid.NewGuid().ToString() : AttributeText.Encode(change.Id),
            Source = _source,
            Type = _type,
            Subject = $"{schema}.{table}",
            Time = (change.CommitTime ?? receivedAt).ToUniversalTime(),
            DataContentType = EventAttributes.JsonContentType,
            Data = data,
        };
        cloudEvent[TableAttribute] = table;
        cloudEvent[SchemaAttribute] = schema;
        cloudEvent[OperationAttribute] = CapturedChange.ActionName(change.Operation);
        if (!string.IsNullOrEmpty(change.TransactionId))
        {
            cloudEvent[TransactionAttribute] = AttributeText.Encode(change.TransactionId);
        }
        if (!string.IsNullOrEmpty(change.Lsn))
        {
            cloudEvent[LsnAttribute] = AttributeText.Encode(change.Lsn);
        }
        if (change.Truncated)
        {
            cloudEvent[TruncatedAttribute] = true;
        }
        return cloudEvent;
    }

    private void ApplyOverrides(CloudEvent cloudEvent)
    {
        foreach (var (attribute, value) in _overrides)
        {
            // An override replaces an extension of the same name whatever its type, as Knative does.
            if (cloudEvent.GetAttribute(attribute.Name) is { } existing && existing.Type != attribute.Type)
            {
                cloudEvent[existing] = null;
            }
            cloudEvent[attribute] = value;
        }
    }

    private static bool IsJson(string text)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(text);
            return true;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    internal static CloudEventAttribute Extension(string name, CloudEventAttributeType type) => CloudEventAttribute.CreateExtension(name, type);
}
