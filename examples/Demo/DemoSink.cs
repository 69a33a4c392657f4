using System.Text.Encodings.Web;
using System.Text.Json;
using CloudNative.CloudEvents;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Events;

namespace PostgresSource.Demo;

/// <summary>Prints every CloudEvent (structured JSON form) and, when a URL was given, also POSTs it there.</summary>
internal sealed class DemoSink(HttpEventSink? http) : IEventSink
{
    private static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private int _count;

    public string Description => http is null ? "the console" : $"the console and {http.Description}";

    public async Task<SendResult> SendAsync(CloudEvent cloudEvent, CancellationToken cancellationToken)
    {
        var number = Interlocked.Increment(ref _count);
        var json = PayloadJsonFormatter.Instance.EncodeStructuredModeMessage(cloudEvent, out _);
        using var document = JsonDocument.Parse(json);
        Console.WriteLine($"--- CloudEvent {number}: {cloudEvent["pgoperation"]} {cloudEvent.Subject} ---");
        Console.WriteLine(JsonSerializer.Serialize(document.RootElement, Pretty));
        if (http is null)
        {
            return SendResult.Ack();
        }
        var result = await http.SendAsync(cloudEvent, cancellationToken).ConfigureAwait(false);
        Console.WriteLine($"    -> {http.Description}: {result}");
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        if (http is not null)
        {
            await http.DisposeAsync().ConfigureAwait(false);
        }
    }
}
