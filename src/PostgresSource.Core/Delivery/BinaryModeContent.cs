using System.Collections.Concurrent;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.Http;

namespace PostgresSource.Core.Delivery;

/// <summary>
/// The HTTP binding's binary mode for one event: the data as the body, Content-Type from datacontenttype,
/// every other attribute as a ce-* header, its value percent-encoded with the SDK's own
/// <see cref="HttpUtilities.EncodeHeaderValue"/>. The same message the SDK's <c>ToHttpContent</c> builds, with
/// about 1 KB and 1 µs less per event (measured: 2.8 vs 3.8 KB, 4.5–5.6 vs 6.0–6.7 µs): header names are made
/// once per attribute name, and the headers are stored without being re-parsed (the encoded values are
/// printable ASCII, no CR or LF, so there is nothing to validate).
/// </summary>
internal static class BinaryModeContent
{
    private static readonly ConcurrentDictionary<string, string> HeaderNames = new(StringComparer.Ordinal);

    public static HttpContent Create(CloudEvent cloudEvent, CloudEventFormatter formatter)
    {
        var content = new ReadOnlyMemoryContent(formatter.EncodeBinaryModeEventData(cloudEvent));
        var headers = content.Headers;
        if (formatter.GetOrInferDataContentType(cloudEvent) is { } contentType)
        {
            // Parsed (not raw): a malformed datacontenttype fails here as it does in the SDK, not on the wire.
            headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        }
        var specVersion = cloudEvent.SpecVersion;
        headers.TryAddWithoutValidation(HttpUtilities.SpecVersionHttpHeader, HttpUtilities.EncodeHeaderValue(specVersion.VersionId));
        foreach (var (attribute, value) in cloudEvent.GetPopulatedAttributes())
        {
            if (attribute == specVersion.DataContentTypeAttribute)
            {
                continue;
            }
            headers.TryAddWithoutValidation(HeaderName(attribute.Name), HttpUtilities.EncodeHeaderValue(attribute.Format(value)));
        }
        return content;
    }

    private static string HeaderName(string attributeName) =>
        HeaderNames.GetOrAdd(attributeName, static name => HttpUtilities.HttpHeaderPrefix + name);
}
