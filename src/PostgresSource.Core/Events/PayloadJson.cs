using System.Text;
using System.Text.Json;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.SystemTextJson;

namespace PostgresSource.Core.Events;

/// <summary>
/// The data of an event: the seed payload as the database produced it. Kept as text so the receiver
/// gets exactly those bytes, in both content modes.
/// </summary>
internal sealed record PayloadJson(string Json)
{
    public override string ToString() => Json;
}

/// <summary>
/// The JSON event format, with the event data written verbatim (never re-serialized) when it is a
/// <see cref="PayloadJson"/>: as the body in binary mode, as the "data" member in structured mode.
/// </summary>
internal sealed class PayloadJsonFormatter : JsonEventFormatter
{
    public static PayloadJsonFormatter Instance { get; } = new();

    protected override void EncodeStructuredModeData(CloudEvent cloudEvent, Utf8JsonWriter writer)
    {
        if (cloudEvent.Data is PayloadJson payload)
        {
            writer.WritePropertyName(DataPropertyName);
            writer.WriteRawValue(payload.Json, skipInputValidation: false);
            return;
        }
        base.EncodeStructuredModeData(cloudEvent, writer);
    }

    public override ReadOnlyMemory<byte> EncodeBinaryModeEventData(CloudEvent cloudEvent) =>
        cloudEvent.Data is PayloadJson payload ? Encoding.UTF8.GetBytes(payload.Json) : base.EncodeBinaryModeEventData(cloudEvent);
}
