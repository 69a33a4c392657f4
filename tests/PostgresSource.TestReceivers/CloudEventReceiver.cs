using System.Net;
using System.Security.Cryptography.X509Certificates;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.Http;
using CloudNative.CloudEvents.SystemTextJson;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace PostgresSource.TestReceivers;

/// <summary>One request as the receiver saw it, decoded with the .NET CloudEvents SDK.</summary>
public sealed record ReceivedRequest(
    int Number,
    DateTimeOffset At,
    IReadOnlyDictionary<string, string> Headers,
    byte[] Body,
    int Status,
    CloudEvent? Event,
    string? DecodeError,
    string Protocol,
    string ConnectionId,
    string Method = "POST",
    string PathAndQuery = "/")
{
    public string ContentType => Headers.TryGetValue("content-type", out var value) ? value : string.Empty;
    public bool Structured => ContentType.StartsWith("application/cloudevents+json", StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// A real HTTP(S) endpoint on 127.0.0.1 and a free port (Kestrel). <see cref="Respond"/> decides each
/// answer from the request number (1-based): a status code, or <see cref="NeverAnswer"/> to hold the
/// request open until the client gives up. Every request is recorded, answered or not.
/// </summary>
public sealed class CloudEventReceiver : IAsyncDisposable
{
    /// <summary>A status meaning: do not answer at all.</summary>
    public const int NeverAnswer = -1;

    private readonly WebApplication _app;
    private readonly List<ReceivedRequest> _requests = [];
    private readonly CancellationTokenSource _stopping = new();
    private int _counter;
    private int _open;
    private int _maxOpen;

    private CloudEventReceiver(WebApplication app, Func<int, int> respond)
    {
        _app = app;
        Respond = respond;
    }

    public Uri Url { get; private set; } = null!;

    /// <summary>Request number (1-based) → status code or <see cref="NeverAnswer"/>. May be replaced while running.</summary>
    public Func<int, int> Respond { get; set; }

    /// <summary>When set, decides instead of <see cref="Respond"/>, from the request number and the decoded event (null if it did not decode).</summary>
    public Func<int, CloudEvent?, int>? RespondTo { get; set; }

    /// <summary>Request number (1-based) → the Location header to answer with (for a 3xx), or null for none.</summary>
    public Func<int, string?>? Location { get; set; }

    /// <summary>Requests being handled now (held open by <see cref="NeverAnswer"/>, for example).</summary>
    public int OpenRequests => Volatile.Read(ref _open);

    public int MaxOpenRequests => Volatile.Read(ref _maxOpen);

    public IReadOnlyList<ReceivedRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return _requests.ToList();
            }
        }
    }

    /// <summary>The events the receiver answered with a 2xx, in arrival order.</summary>
    public IReadOnlyList<CloudEvent> Accepted => Requests.Where(r => r.Status is >= 200 and < 300 && r.Event is not null).Select(r => r.Event!).ToList();

    public static async Task<CloudEventReceiver> StartAsync(Func<int, int>? respond = null, X509Certificate2? certificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0, listen =>
            {
                if (certificate is not null)
                {
                    listen.UseHttps(certificate);
                }
            });
        });
        var app = builder.Build();
        var receiver = new CloudEventReceiver(app, respond ?? (_ => 200));
        app.Run(receiver.HandleAsync);
        await app.StartAsync().ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.Url = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal) + "/");
        return receiver;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var open = Interlocked.Increment(ref _open);
        int seen;
        while (open > (seen = Volatile.Read(ref _maxOpen)) && Interlocked.CompareExchange(ref _maxOpen, open, seen) != seen)
        {
        }
        try
        {
            var number = Interlocked.Increment(ref _counter);
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted).ConfigureAwait(false);
            var body = buffer.ToArray();
            var headers = context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString());
            var (cloudEvent, error) = await DecodeAsync(headers, body).ConfigureAwait(false);
            var status = RespondTo is { } decide ? decide(number, cloudEvent) : Respond(number);
            lock (_requests)
            {
                _requests.Add(new ReceivedRequest(number, DateTimeOffset.UtcNow, headers, body, status, cloudEvent, error, context.Request.Protocol, context.Connection.Id,
                    context.Request.Method, context.Request.Path + context.Request.QueryString));
            }
            if (status == NeverAnswer)
            {
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
                try
                {
                    await Task.Delay(Timeout.Infinite, linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
                return;
            }
            context.Response.StatusCode = status;
            if (Location?.Invoke(number) is { } location)
            {
                context.Response.Headers.Location = location;
            }
            if (status >= 400)
            {
                await context.Response.WriteAsync($"refused by test receiver with {status}").ConfigureAwait(false);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    }

    /// <summary>Decodes binary or structured mode with the .NET SDK, which checks the required attributes.</summary>
    private static async Task<(CloudEvent?, string?)> DecodeAsync(Dictionary<string, string> headers, byte[] body)
    {
        try
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, "http://receiver/") { Content = new ByteArrayContent(body) };
            foreach (var (name, value) in headers)
            {
                if (name.StartsWith("content-", StringComparison.Ordinal))
                {
                    message.Content.Headers.TryAddWithoutValidation(name, value);
                }
                else if (name.StartsWith("ce-", StringComparison.Ordinal))
                {
                    message.Headers.TryAddWithoutValidation(name, value);
                }
            }
            var cloudEvent = await message.ToCloudEventAsync(new JsonEventFormatter()).ConfigureAwait(false);
            return (cloudEvent.Validate(), null);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or FormatException or System.Text.Json.JsonException)
        {
            return (null, ex.Message);
        }
    }

    /// <summary>Waits until the condition holds on the requests so far, or the timeout passes; returns whether it held.</summary>
    public async Task<bool> WaitUntilAsync(Func<IReadOnlyList<ReceivedRequest>, bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (condition(Requests))
            {
                return true;
            }
            await Task.Delay(20).ConfigureAwait(false);
        }
        return condition(Requests);
    }

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            await _app.StopAsync(timeout.Token).ConfigureAwait(false);
        }
        await _app.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }
}
