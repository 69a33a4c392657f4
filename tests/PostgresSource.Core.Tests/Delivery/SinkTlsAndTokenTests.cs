using CloudNative.CloudEvents;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Events;
using PostgresSource.Core.Sources;
using PostgresSource.TestReceivers;

namespace PostgresSource.Core.Tests.Delivery;

/// <summary>
/// Knative's sink conventions over real HTTPS: the sink's CA certificates as PEM text (K_CA_CERTS) are trusted
/// besides the system's roots, with the host name still checked; a token file's content is the Bearer token, and
/// a replaced file's new token is used.
/// </summary>
public sealed class SinkTlsAndTokenTests : IDisposable
{
    private static readonly ChangeEventFactory Factory = new(new SourceDefinition { Name = "shop", Tables = [TableName.Parse("orders")] }.Validate());

    private readonly string _folder = Directory.CreateTempSubdirectory("pgsource-token-").FullName;

    private static CloudEvent Event(int id) => Factory.Create(new CapturedChange
    {
        Schema = "public",
        Table = "orders",
        Operation = ChangeOperation.Insert,
        PayloadJson = $$$"""{"table": "orders", "schema": "public", "action": "INSERT", "data": {"id": {{{id}}}}}""",
    }, DateTimeOffset.UtcNow);

    private static RetryPolicy Once { get; } = new() { MaxAttempts = 1 };

    private static async Task<DeliveryOutcome> DeliverAsync(HttpEventSink sink, int id) =>
        await new EventDeliverer(sink, Once).DeliverAsync(Event(id), CancellationToken.None);

    [Fact]
    public async Task AnHttpsSinkSignedByTheGivenCaPemIsTrustedAndRefusedWithoutIt()
    {
        using var certificates = TestCertificates.Create();
        await using var receiver = await CloudEventReceiver.StartAsync(certificate: certificates.Server);

        await using var untrusting = new HttpEventSink(receiver.Url);
        var refused = await DeliverAsync(untrusting, 1);
        Assert.Equal(DeliveryStatus.Failed, refused.Status);
        Assert.Null(refused.Last.StatusCode);
        Assert.Empty(receiver.Requests);

        await using var trusting = new HttpEventSink(receiver.Url, new HttpSinkOptions { CaCertificates = certificates.AuthorityPem });
        Assert.Equal(DeliveryStatus.Delivered, (await DeliverAsync(trusting, 2)).Status);
        Assert.Single(receiver.Requests);

        // Another authority's PEM does not make this one trusted.
        using var strangers = TestCertificates.Create();
        await using var wrongCa = new HttpEventSink(receiver.Url, new HttpSinkOptions { CaCertificates = strangers.AuthorityPem });
        Assert.Equal(DeliveryStatus.Failed, (await DeliverAsync(wrongCa, 3)).Status);
        Assert.Single(receiver.Requests);
    }

    [Fact]
    public async Task ACertificateForAnotherHostNameFailsEvenWhenItsCaIsTrusted()
    {
        using var certificates = TestCertificates.Create(serverDnsName: "sink.example");
        await using var receiver = await CloudEventReceiver.StartAsync(certificate: certificates.Server);
        await using var sink = new HttpEventSink(receiver.Url, new HttpSinkOptions { CaCertificates = certificates.AuthorityPem });

        var outcome = await DeliverAsync(sink, 1);

        Assert.Equal(DeliveryStatus.Failed, outcome.Status);
        Assert.Null(outcome.Last.StatusCode);
        Assert.Empty(receiver.Requests);
    }

    [Fact]
    public async Task TheTokenFilesContentIsTheBearerTokenAndARewrittenFilesNewTokenIsUsed()
    {
        var file = Path.Combine(_folder, "token");
        File.WriteAllText(file, "first-token\n");
        await using var receiver = await CloudEventReceiver.StartAsync();
        await using var sink = new HttpEventSink(receiver.Url, new HttpSinkOptions { TokenFile = file });

        Assert.Equal(DeliveryStatus.Delivered, (await DeliverAsync(sink, 1)).Status);
        Assert.Equal("Bearer first-token", receiver.Requests[^1].Headers["authorization"]);

        File.WriteAllText(file, "second-token-of-another-length");
        File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddMinutes(1));
        await Task.Delay(TimeSpan.FromSeconds(1.2)); // past the recheck interval
        Assert.Equal(DeliveryStatus.Delivered, (await DeliverAsync(sink, 2)).Status);
        Assert.Equal("Bearer second-token-of-another-length", receiver.Requests[^1].Headers["authorization"]);
    }

    [Fact]
    public void AProjectedTokenBehindASwappedSymbolicLinkIsReadAgain()
    {
        // The kubelet's way: the mounted name is a link into a versioned folder, which a rotation replaces.
        var first = Directory.CreateDirectory(Path.Combine(_folder, "..v1")).FullName;
        var second = Directory.CreateDirectory(Path.Combine(_folder, "..v2")).FullName;
        File.WriteAllText(Path.Combine(first, "token"), "aaaa");
        File.WriteAllText(Path.Combine(second, "token"), "bbbb");
        File.SetLastWriteTimeUtc(Path.Combine(second, "token"), File.GetLastWriteTimeUtc(Path.Combine(first, "token")));
        var link = Path.Combine(_folder, "token");
        File.CreateSymbolicLink(link, Path.Combine(first, "token"));
        var token = new BearerTokenFile(link, TimeSpan.Zero);
        Assert.Equal("aaaa", token.Read());

        File.Delete(link);
        File.CreateSymbolicLink(link, Path.Combine(second, "token"));
        Assert.Equal("bbbb", token.Read());

        // Between two versions (no file for a moment) the token read before is kept.
        File.Delete(link);
        Assert.Equal("bbbb", token.Read());
        Assert.Throws<SinkTokenException>(() => new BearerTokenFile(link).Read());
    }

    [Fact]
    public async Task TheTokenIsNotSentToAnotherOriginARedirectPointsAt()
    {
        var file = Path.Combine(_folder, "token");
        File.WriteAllText(file, "for-the-sink-only");
        await using var elsewhere = await CloudEventReceiver.StartAsync();
        await using var moving = await CloudEventReceiver.StartAsync(_ => 307);
        moving.Location = _ => elsewhere.Url.ToString();
        await using var sink = new HttpEventSink(moving.Url, new HttpSinkOptions { TokenFile = file });

        Assert.Equal(DeliveryStatus.Delivered, (await DeliverAsync(sink, 1)).Status);

        Assert.Equal("Bearer for-the-sink-only", Assert.Single(moving.Requests).Headers["authorization"]);
        Assert.DoesNotContain("authorization", Assert.Single(elsewhere.Requests).Headers.Keys);
    }

    [Fact]
    public void PemWithoutACertificateOrWithABrokenOneIsAFormatErrorThatDoesNotRepeatTheText()
    {
        var none = Assert.Throws<FormatException>(() => HttpEventSink.ParsePemCertificates("secret-looking-text"));
        Assert.Contains("no PEM certificate", none.Message);
        Assert.DoesNotContain("secret-looking-text", none.Message);

        const string broken = "-----BEGIN CERTIFICATE-----\nc2VjcmV0LWxvb2tpbmctdGV4dA==\n-----END CERTIFICATE-----\n";
        var unreadable = Assert.Throws<FormatException>(() => HttpEventSink.ParsePemCertificates(broken));
        Assert.DoesNotContain("c2VjcmV0", unreadable.Message);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
