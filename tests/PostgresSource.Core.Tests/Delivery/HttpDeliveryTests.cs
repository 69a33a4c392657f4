using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using CloudNative.CloudEvents;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Events;
using PostgresSource.Core.Sources;
using PostgresSource.TestReceivers;

namespace PostgresSource.Core.Tests.Delivery;

/// <summary>One event at a time through the deliverer to a real local HTTP(S) receiver.</summary>
public sealed class HttpDeliveryTests
{
    private static readonly ChangeEventFactory Factory = new(new SourceDefinition { Name = "shop", Tables = [TableName.Parse("orders")] }.Validate());

    private static CloudEvent Event(int id) => Factory.Create(new CapturedChange
    {
        Schema = "public",
        Table = "orders",
        Operation = ChangeOperation.Insert,
        PayloadJson = $$$"""{"table" : "orders", "schema" : "public", "action" : "INSERT", "data" : {"id":{{{id}}},"item":"ünïcode ✓"}}""",
    }, DateTimeOffset.UtcNow);

    private static RetryPolicy Fast(int attempts = 5) => new() { MaxAttempts = attempts, InitialDelay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromMilliseconds(200) };

    [Theory]
    [InlineData(EventContentMode.Binary)]
    [InlineData(EventContentMode.Structured)]
    public async Task BothContentModesArriveAsTheSameValidEvent(EventContentMode mode)
    {
        await using var receiver = await CloudEventReceiver.StartAsync();
        await using var sink = new HttpEventSink(receiver.Url, new HttpSinkOptions { ContentMode = mode });
        var sent = Event(1);
        var outcome = await new EventDeliverer(sink, Fast()).DeliverAsync(sent, CancellationToken.None);

        Assert.Equal(DeliveryStatus.Delivered, outcome.Status);
        Assert.Equal(1, outcome.Attempts);
        var request = Assert.Single(receiver.Requests);
        Assert.Null(request.DecodeError);
        Assert.Equal(mode == EventContentMode.Structured, request.Structured);
        if (mode == EventContentMode.Binary)
        {
            Assert.Equal(sent.Id, request.Headers["ce-id"]);
            Assert.Equal("1.0", request.Headers["ce-specversion"]);
            Assert.Equal("INSERT", request.Headers["ce-pgoperation"]);
            Assert.StartsWith("application/json", request.ContentType);
            Assert.Equal(((PayloadJson)sent.Data!).Json, Encoding.UTF8.GetString(request.Body));
        }
        var received = request.Event!;
        Assert.Equal(sent.Id, received.Id);
        Assert.Equal(sent.Source, received.Source);
        Assert.Equal(sent.Type, received.Type);
        Assert.Equal(sent.Subject, received.Subject);
        Assert.Equal(sent.Time, received.Time);
        Assert.Equal("application/json", received.DataContentType);
        Assert.Equal("orders", received["pgtable"]?.ToString());
        Assert.Equal("ünïcode ✓", ((JsonElement)received.Data!).GetProperty("data").GetProperty("item").GetString());
    }

    [Fact]
    public async Task RetryableStatusesAreRetriedUntilTheSinkTakesTheEvent()
    {
        var answers = new[] { 503, 500, 429, 404, 408, 409, 200 };
        await using var receiver = await CloudEventReceiver.StartAsync(n => answers[Math.Min(n, answers.Length) - 1]);
        await using var sink = new HttpEventSink(receiver.Url);
        var retries = 0;
        var outcome = await new EventDeliverer(sink, Fast(10)).DeliverAsync(Event(2), CancellationToken.None, _ => retries++);
        Assert.Equal(DeliveryStatus.Delivered, outcome.Status);
        Assert.Equal(7, outcome.Attempts);
        Assert.Equal(6, retries);
        Assert.Equal(7, receiver.Requests.Count);
        Assert.Single(receiver.Requests.Select(r => r.Event!.Id).Distinct());
    }

    [Fact]
    public async Task A400IsNotRetriedAndGoesToTheDeadLetterSinkWithKnativeErrorExtensions()
    {
        await using var receiver = await CloudEventReceiver.StartAsync(_ => 400);
        await using var deadLetters = await CloudEventReceiver.StartAsync();
        await using var sink = new HttpEventSink(receiver.Url);
        await using var deadLetterSink = new HttpEventSink(deadLetters.Url, new HttpSinkOptions { ContentMode = EventContentMode.Structured });
        var sent = Event(3);
        var outcome = await new EventDeliverer(sink, Fast(), deadLetterSink).DeliverAsync(sent, CancellationToken.None);

        Assert.Equal(DeliveryStatus.DeadLettered, outcome.Status);
        Assert.Equal(1, outcome.Attempts);
        Assert.Equal(400, outcome.Last.StatusCode);
        Assert.Single(receiver.Requests);
        var letter = Assert.Single(deadLetters.Accepted);
        Assert.Equal(sent.Id, letter.Id);
        Assert.Equal(receiver.Url.ToString(), letter["knativeerrordest"]);
        Assert.Equal("400", letter["knativeerrorcode"]);
        Assert.Equal("refused by test receiver with 400", Encoding.UTF8.GetString(Convert.FromBase64String((string)letter["knativeerrordata"]!)));
        Assert.Equal("orders", letter["pgtable"]?.ToString());
    }

    [Fact]
    public async Task WithoutADeadLetterSinkARefusedEventFailsWithTheReason()
    {
        await using var receiver = await CloudEventReceiver.StartAsync(_ => 422);
        await using var sink = new HttpEventSink(receiver.Url);
        var outcome = await new EventDeliverer(sink, Fast()).DeliverAsync(Event(4), CancellationToken.None);
        Assert.Equal(DeliveryStatus.Failed, outcome.Status);
        Assert.Equal(422, outcome.Last.StatusCode);
        Assert.Contains("422", outcome.Reason);
    }

    [Fact]
    public async Task NetworkErrorsAreRetriedThenReported()
    {
        var port = FreePort();
        await using var sink = new HttpEventSink(new Uri($"http://127.0.0.1:{port}/"));
        var retries = 0;
        var outcome = await new EventDeliverer(sink, Fast(3)).DeliverAsync(Event(5), CancellationToken.None, _ => retries++);
        Assert.Equal(DeliveryStatus.Failed, outcome.Status);
        Assert.Equal(3, outcome.Attempts);
        Assert.Equal(2, retries);
        Assert.Null(outcome.Last.StatusCode);
        Assert.True(outcome.Last.Retryable);
    }

    [Fact]
    public async Task ASinkThatDoesNotAnswerTimesOutAsANetworkError()
    {
        await using var receiver = await CloudEventReceiver.StartAsync(_ => CloudEventReceiver.NeverAnswer);
        await using var sink = new HttpEventSink(receiver.Url, new HttpSinkOptions { RequestTimeout = TimeSpan.FromMilliseconds(300) });
        var outcome = await new EventDeliverer(sink, Fast(2)).DeliverAsync(Event(6), CancellationToken.None);
        Assert.Equal(DeliveryStatus.Failed, outcome.Status);
        Assert.Contains("no response within 0.3 s", outcome.Last.Error);
    }

    [Fact]
    public async Task ConnectionsAreKeptAlive()
    {
        await using var receiver = await CloudEventReceiver.StartAsync();
        await using var sink = new HttpEventSink(receiver.Url);
        var deliverer = new EventDeliverer(sink, Fast());
        for (var i = 0; i < 25; i++)
        {
            Assert.Equal(DeliveryStatus.Delivered, (await deliverer.DeliverAsync(Event(i), CancellationToken.None)).Status);
        }
        Assert.Equal(25, receiver.Requests.Count);
        Assert.Single(receiver.Requests.Select(r => r.ConnectionId).Distinct());
    }

    [Fact]
    public async Task AnHttpsSinkWithACustomCaWorksAndIsRefusedWithoutIt()
    {
        using var certificates = TestCertificates.Create();
        await using var receiver = await CloudEventReceiver.StartAsync(certificate: certificates.Server);
        Assert.Equal("https", receiver.Url.Scheme);

        await using var trusting = new HttpEventSink(receiver.Url, new HttpSinkOptions { CaCertificateFile = certificates.AuthorityPemFile });
        var delivered = await new EventDeliverer(trusting, Fast()).DeliverAsync(Event(7), CancellationToken.None);
        Assert.Equal(DeliveryStatus.Delivered, delivered.Status);

        await using var untrusting = new HttpEventSink(receiver.Url);
        var refused = await new EventDeliverer(untrusting, Fast(1)).DeliverAsync(Event(8), CancellationToken.None);
        Assert.Equal(DeliveryStatus.Failed, refused.Status);
        Assert.Null(refused.Last.StatusCode);

        Assert.Single(receiver.Requests);

        // A certificate for another name is refused even when its CA is trusted; a chain error alone is checked against the CA.
        var authorities = HttpEventSink.LoadCertificates(certificates.AuthorityPemFile);
        Assert.False(HttpEventSink.TrustedByCustomAuthority(certificates.Server,
            System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch | System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors, authorities));
        Assert.True(HttpEventSink.TrustedByCustomAuthority(certificates.Server, System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors, authorities));
        using var strangers = TestCertificates.Create();
        Assert.False(HttpEventSink.TrustedByCustomAuthority(certificates.Server, System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors,
            HttpEventSink.LoadCertificates(strangers.AuthorityPemFile)));
    }

    [Fact]
    public async Task ACallbackSinkHandsPlainRecordsToTheCaller()
    {
        var records = new List<EventRecord>();
        await using var sink = new CallbackSink((record, _) => { records.Add(record); return ValueTask.CompletedTask; });
        var sent = Event(9);
        var outcome = await new EventDeliverer(sink).DeliverAsync(sent, CancellationToken.None);
        Assert.Equal(DeliveryStatus.Delivered, outcome.Status);
        Assert.Equal(sent.Id, Assert.Single(records).Id);

        await using var throwing = new CallbackSink((_, _) => throw new InvalidOperationException("caller gone"));
        var failed = await new EventDeliverer(throwing, Fast()).DeliverAsync(sent, CancellationToken.None);
        Assert.Equal(DeliveryStatus.Failed, failed.Status);
        Assert.Equal(1, failed.Attempts);
        Assert.Contains("caller gone", failed.Reason);
    }

    [Fact]
    public void SinkDescriptionsNeverShowCredentials()
    {
        Assert.Equal("https://broker.example/ns/default", HttpEventSink.Describe(new Uri("https://user:secret@broker.example/ns/default?token=abc")));
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
