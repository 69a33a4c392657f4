using CloudNative.CloudEvents;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Events;
using PostgresSource.Core.Sources;
using PostgresSource.TestReceivers;

namespace PostgresSource.Core.Tests.Delivery;

/// <summary>307 and 308 are followed by hand with the same POST; everything else 3xx is a clear, final refusal.</summary>
public sealed class HttpRedirectTests
{
    private static readonly ChangeEventFactory Factory = new(new SourceDefinition { Name = "shop", Tables = [TableName.Parse("orders")] }.Validate());

    private static CloudEvent Event(int id) => Factory.Create(new CapturedChange
    {
        Schema = "public",
        Table = "orders",
        Operation = ChangeOperation.Insert,
        PayloadJson = $$$"""{"table": "orders", "schema": "public", "action": "INSERT", "data": {"id": {{{id}}}}}""",
    }, DateTimeOffset.UtcNow);

    private static RetryPolicy Fast(int attempts = 5) => new() { MaxAttempts = attempts, InitialDelay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromMilliseconds(100) };

    [Theory]
    [InlineData(EventContentMode.Binary)]
    [InlineData(EventContentMode.Structured)]
    public async Task A307ThenA202DeliversTheSameEventByPostAndReportsTheFinalStatus(EventContentMode mode)
    {
        await using var final = await CloudEventReceiver.StartAsync(_ => 202);
        await using var moving = await CloudEventReceiver.StartAsync(_ => 307);
        moving.Location = _ => new Uri(final.Url, "inbox?x=1").ToString();
        await using var sink = new HttpEventSink(moving.Url, new HttpSinkOptions { ContentMode = mode });
        var sent = Event(1);

        var outcome = await new EventDeliverer(sink, Fast()).DeliverAsync(sent, CancellationToken.None);

        Assert.Equal(DeliveryStatus.Delivered, outcome.Status);
        Assert.Equal(1, outcome.Attempts);
        Assert.Equal(202, outcome.Last.StatusCode);
        Assert.Single(moving.Requests);
        var arrived = Assert.Single(final.Requests);
        Assert.Equal("POST", arrived.Method);
        Assert.Equal("/inbox?x=1", arrived.PathAndQuery);
        Assert.Null(arrived.DecodeError);
        Assert.Equal(sent.Id, arrived.Event!.Id);
        Assert.Equal(moving.Requests[0].Body, arrived.Body);

        // Temporary: the next event starts at the configured URL again.
        Assert.Null(sink.PermanentRedirect);
        Assert.Equal(DeliveryStatus.Delivered, (await new EventDeliverer(sink, Fast()).DeliverAsync(Event(2), CancellationToken.None)).Status);
        Assert.Equal(2, moving.Requests.Count);
    }

    [Fact]
    public async Task ARelativeLocationIsResolvedAgainstTheUrlThatAnswered()
    {
        await using var receiver = await CloudEventReceiver.StartAsync(n => n == 1 ? 307 : 200);
        receiver.Location = n => n == 1 ? "/moved/here" : null;
        await using var sink = new HttpEventSink(new Uri(receiver.Url, "old/path"));
        var outcome = await new EventDeliverer(sink, Fast()).DeliverAsync(Event(3), CancellationToken.None);
        Assert.Equal(DeliveryStatus.Delivered, outcome.Status);
        Assert.Equal(["/old/path", "/moved/here"], receiver.Requests.Select(r => r.PathAndQuery));
    }

    [Fact]
    public async Task A308DeliversAndIsRememberedUntilTheNewTargetFails()
    {
        var answers = new Queue<int>([200, 200, 503, 200, 200]);
        await using var final = await CloudEventReceiver.StartAsync(_ => { lock (answers) { return answers.Dequeue(); } });
        await using var moving = await CloudEventReceiver.StartAsync(_ => 308);
        moving.Location = _ => final.Url.ToString();
        await using var sink = new HttpEventSink(moving.Url);
        var deliverer = new EventDeliverer(sink, Fast());

        var first = await deliverer.DeliverAsync(Event(4), CancellationToken.None);
        Assert.Equal(DeliveryStatus.Delivered, first.Status);
        Assert.Equal(200, first.Last.StatusCode);
        Assert.Equal(final.Url, sink.PermanentRedirect);

        // Permanent: the next event goes straight to the new target.
        Assert.Equal(DeliveryStatus.Delivered, (await deliverer.DeliverAsync(Event(5), CancellationToken.None)).Status);
        Assert.Single(moving.Requests);
        Assert.Equal(2, final.Requests.Count);

        // The remembered target fails (503): the retry starts from the configured URL, is moved again, and delivers.
        var third = await deliverer.DeliverAsync(Event(6), CancellationToken.None);
        Assert.Equal(DeliveryStatus.Delivered, third.Status);
        Assert.Equal(2, third.Attempts);
        Assert.Equal(2, moving.Requests.Count);
        Assert.Equal(4, final.Requests.Count);
        Assert.Equal(final.Url, sink.PermanentRedirect);
        Assert.All(final.Requests, r => Assert.Null(r.DecodeError));
    }

    [Fact]
    public async Task ARedirectLoopStopsAtTheHopLimitWithAClearErrorAndIsNotRetried()
    {
        await using var looping = await CloudEventReceiver.StartAsync(_ => 307);
        looping.Location = n => new Uri(looping.Url, $"hop{n}").ToString();
        await using var sink = new HttpEventSink(looping.Url);

        var outcome = await new EventDeliverer(sink, Fast()).DeliverAsync(Event(7), CancellationToken.None);

        Assert.Equal(DeliveryStatus.Failed, outcome.Status);
        Assert.Equal(1, outcome.Attempts);
        Assert.False(outcome.Last.Retryable);
        Assert.Equal(307, outcome.Last.StatusCode);
        Assert.Equal(HttpEventSink.MaxRedirects + 1, looping.Requests.Count);
        Assert.Equal($"redirect to {new Uri(looping.Url, "hop6")} not followed: more than 5 redirects in a row", outcome.Last.Error);
        Assert.Contains("redirect to", outcome.Reason);
    }

    [Fact]
    public async Task AnHttpsSinkNeverFollowsARedirectToHttp()
    {
        using var certificates = TestCertificates.Create();
        await using var plain = await CloudEventReceiver.StartAsync();
        await using var secure = await CloudEventReceiver.StartAsync(_ => 308, certificates.Server);
        secure.Location = _ => plain.Url.ToString();
        await using var sink = new HttpEventSink(secure.Url, new HttpSinkOptions { CaCertificateFile = certificates.AuthorityPemFile });

        var outcome = await new EventDeliverer(sink, Fast()).DeliverAsync(Event(8), CancellationToken.None);

        Assert.Equal(DeliveryStatus.Failed, outcome.Status);
        Assert.Equal(1, outcome.Attempts);
        Assert.Equal(308, outcome.Last.StatusCode);
        Assert.Equal($"redirect to {plain.Url} not followed: it would go from https to http", outcome.Last.Error);
        Assert.Empty(plain.Requests);
        Assert.Null(sink.PermanentRedirect);
    }

    [Theory]
    [InlineData(301)]
    [InlineData(302)]
    [InlineData(303)]
    public async Task RedirectsThatWouldBecomeAGetAreNotFollowed(int status)
    {
        await using var final = await CloudEventReceiver.StartAsync();
        await using var moving = await CloudEventReceiver.StartAsync(_ => status);
        moving.Location = _ => final.Url.ToString();
        await using var sink = new HttpEventSink(moving.Url);

        var outcome = await new EventDeliverer(sink, Fast()).DeliverAsync(Event(9), CancellationToken.None);

        Assert.Equal(DeliveryStatus.Failed, outcome.Status);
        Assert.Equal(1, outcome.Attempts);
        Assert.Equal(status, outcome.Last.StatusCode);
        Assert.StartsWith($"redirect to {final.Url} not followed: {status} is only followed with a GET", outcome.Last.Error);
        Assert.Empty(final.Requests);
    }

    [Fact]
    public async Task A307WithoutALocationIsNotFollowed()
    {
        await using var receiver = await CloudEventReceiver.StartAsync(_ => 307);
        await using var sink = new HttpEventSink(receiver.Url);
        var outcome = await new EventDeliverer(sink, Fast()).DeliverAsync(Event(10), CancellationToken.None);
        Assert.Equal(DeliveryStatus.Failed, outcome.Status);
        Assert.Equal(1, outcome.Attempts);
        Assert.Equal("redirect to (no Location) not followed: the answer has no Location header", outcome.Last.Error);
    }
}
