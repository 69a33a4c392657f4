using System.Text.Json;
using CloudNative.CloudEvents;

namespace PostgresSource.Core.Events;

/// <summary>
/// A CloudEvent as plain values, for callers that must not depend on the CloudEvents SDK (the cmdlets,
/// logs, reports). The data is the JSON text as sent.
/// </summary>
internal sealed record EventRecord
{
    public required string Id { get; init; }
    public required string Source { get; init; }
    public required string Type { get; init; }
    public string? Subject { get; init; }
    public DateTimeOffset? Time { get; init; }
    public string? DataContentType { get; init; }
    public string? DataJson { get; init; }

    /// <summary>Every extension attribute by name: string, bool, int, or the attribute's text form.</summary>
    public required IReadOnlyDictionary<string, object> Extensions { get; init; }

    public string? Table => Extension(EventAttributes.Table) as string;
    public string? Schema => Extension(EventAttributes.Schema) as string;
    public string? Operation => Extension(EventAttributes.Operation) as string;
    public string? TransactionId => Extension(EventAttributes.TransactionId) as string;
    public string? Lsn => Extension(EventAttributes.Lsn) as string;
    public bool Truncated => Extension(EventAttributes.Truncated) is true;

    public object? Extension(string name) => Extensions.TryGetValue(name, out var value) ? value : null;

    public static EventRecord From(CloudEvent cloudEvent)
    {
        var extensions = new SortedDictionary<string, object>(StringComparer.Ordinal);
        foreach (var (attribute, value) in cloudEvent.GetPopulatedAttributes())
        {
            if (attribute.IsExtension)
            {
                extensions[attribute.Name] = value is string or bool or int ? value : attribute.Format(value);
            }
        }
        return new EventRecord
        {
            Id = cloudEvent.Id!,
            Source = cloudEvent.Source?.OriginalString ?? string.Empty,
            Type = cloudEvent.Type!,
            Subject = cloudEvent.Subject,
            Time = cloudEvent.Time,
            DataContentType = cloudEvent.DataContentType,
            DataJson = cloudEvent.Data switch
            {
                null => null,
                PayloadJson payload => payload.Json,
                string text => text,
                var other => JsonSerializer.Serialize(other),
            },
            Extensions = extensions,
        };
    }
}
