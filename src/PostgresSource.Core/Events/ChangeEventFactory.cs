using CloudNative.CloudEvents;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Events;

/// <summary>
/// Turns a captured change into a CloudEvent 1.0 (DESIGN.md section 5): id = the change's own id when
/// the mode has a deterministic one, else a new unique id; source = the source's identity; type =
/// the source's event type; subject = schema.table; time = commit time when known, else receive time;
/// data = the seed payload verbatim; pg* extensions; then the ceOverrides, which win.
/// </summary>
public sealed class ChangeEventFactory
{
    private static readonly CloudEventAttribute TableAttribute = Extension(EventAttributes.Table, CloudEventAttributeType.String);
    private static readonly CloudEventAttribute SchemaAttribute = Extension(EventAttributes.Schema, CloudEventAttributeType.String);
    private static readonly CloudEventAttribute OperationAttribute = Extension(EventAttributes.Operation, CloudEventAttributeType.String);
    private static readonly CloudEventAttribute TransactionAttribute = Extension(EventAttributes.TransactionId, CloudEventAttributeType.String);
    private static readonly CloudEventAttribute LsnAttribute = Extension(EventAttributes.Lsn, CloudEventAttributeType.String);
    private static readonly CloudEventAttribute TruncatedAttribute = Extension(EventAttributes.Truncated, CloudEventAttributeType.Boolean);

    private readonly Uri _source;
    private readonly string _type;
    private readonly IReadOnlyList<(CloudEventAttribute Attribute, string Value)> _overrides;

    /// <param name="source">The source definition (event type, identity, its own ceOverrides).</param>
    /// <param name="eventSource">The CloudEvents source; default <see cref="SourceDefinition.EventSource"/> (the adapter's EVENT_SOURCE may replace it).</param>
    /// <param name="overrides">Extra overrides (K_CE_OVERRIDES), applied after the definition's own.</param>
    public ChangeEventFactory(SourceDefinition source, string? eventSource = null, IReadOnlyDictionary<string, string>? overrides = null)
    {
        var sourceText = string.IsNullOrWhiteSpace(eventSource) ? source.EventSource : eventSource;
        if (!Uri.TryCreate(sourceText, UriKind.RelativeOrAbsolute, out var uri))
        {
            throw new FormatException($"The event source '{sourceText}' is not a URI reference.");
        }
        _source = uri;
        _type = source.EventType;
        _overrides = CeOverrides.Merge(source.CeOverrideExtensions, overrides)
            .Select(p => (Extension(p.Key, CloudEventAttributeType.String), p.Value))
            .ToList();
    }

    public CloudEvent Create(CapturedChange change, DateTimeOffset receivedAt)
    {
        var cloudEvent = new CloudEvent(CloudEventsSpecVersion.V1_0)
        {
            Id = string.IsNullOrEmpty(change.Id) ? Guid.NewGuid().ToString() : change.Id,
            Source = _source,
            Type = _type,
            Subject = $"{change.Schema}.{change.Table}",
            Time = (change.CommitTime ?? receivedAt).ToUniversalTime(),
            DataContentType = EventAttributes.JsonContentType,
            Data = new PayloadJson(change.PayloadJson),
        };
        cloudEvent[TableAttribute] = change.Table;
        cloudEvent[SchemaAttribute] = change.Schema;
        cloudEvent[OperationAttribute] = CapturedChange.ActionName(change.Operation);
        if (!string.IsNullOrEmpty(change.TransactionId))
        {
            cloudEvent[TransactionAttribute] = change.TransactionId;
        }
        if (!string.IsNullOrEmpty(change.Lsn))
        {
            cloudEvent[LsnAttribute] = change.Lsn;
        }
        if (change.Truncated)
        {
            cloudEvent[TruncatedAttribute] = true;
        }
        foreach (var (attribute, value) in _overrides)
        {
            // An override replaces an extension of the same name whatever its type, as Knative does.
            if (cloudEvent.GetAttribute(attribute.Name) is { } existing && existing.Type != attribute.Type)
            {
                cloudEvent[existing] = null;
            }
            cloudEvent[attribute] = value;
        }
        return cloudEvent.Validate();
    }

    internal static CloudEventAttribute Extension(string name, CloudEventAttributeType type) => CloudEventAttribute.CreateExtension(name, type);
}
