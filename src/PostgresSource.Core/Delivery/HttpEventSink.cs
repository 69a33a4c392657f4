using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.Http;
using PostgresSource.Core.Events;

namespace PostgresSource.Core.Delivery;

/// <summary>
/// POSTs each event to an HTTP(S) endpoint with the CloudEvents HTTP binding, over one pooled,
/// kept-alive connection. Optionally trusts a custom CA for an HTTPS sink. Follows 307 and 308
/// redirects itself (see <see cref="SendAsync"/>); the target of a chain of 308s is remembered for later
/// events until an attempt there fails.
/// </summary>
internal sealed class HttpEventSink : IEventSink
{
    private const int MaxBodyKept = 1024;

    /// <summary>The most 307/308 redirects one attempt follows.</summary>
    public const int MaxRedirects = 5;

    private Uri? _permanent;
    private readonly Uri _target;
    private readonly HttpSinkOptions _options;
    private readonly HttpClient _client;
    private readonly ContentMode _mode;
    private readonly BearerTokenFile? _token;

    public HttpEventSink(Uri target, HttpSinkOptions? options = null)
    {
        _target = SinkAddress.Require(target);
        _options = options ?? HttpSinkOptions.Default;
        _mode = _options.ContentMode == EventContentMode.Structured ? ContentMode.Structured : ContentMode.Binary;
        var handler = new SocketsHttpHandler
        {
            // Keep-alive: reuse the connection; recycle it now and then so DNS changes (a new broker pod) are seen.
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            // Redirects are followed in SendAsync: the handler's own would turn a POST into a GET on 301/302/303.
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
        };
        var authorities = new X509Certificate2Collection();
        if (!string.IsNullOrWhiteSpace(_options.CaCertificateFile))
        {
            authorities.AddRange(LoadCertificates(_options.CaCertificateFile));
        }
        if (!string.IsNullOrWhiteSpace(_options.CaCertificates))
        {
            authorities.AddRange(ParsePemCertificates(_options.CaCertificates));
        }
        if (authorities.Count > 0)
        {
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, errors) => TrustedByCustomAuthority(certificate, errors, authorities),
            };
        }
        _token = string.IsNullOrWhiteSpace(_options.TokenFile) ? null : new BearerTokenFile(_options.TokenFile);
        _client = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        _client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("PostgresSource", typeof(HttpEventSink).Assembly.GetName().Version?.ToString(3) ?? "0"));
        Description = Describe(target);
    }

    public string Description { get; }

    public Uri Target => _target;

    /// <summary>
    /// One attempt, redirects included. A 307 or 308 with a Location is followed by hand (the same event, POSTed
    /// again with the same headers and body, to the Location resolved against the URL that answered), at most
    /// <see cref="MaxRedirects"/> times, never from https to http. 301, 302 and 303 are not followed (clients
    /// turn them into a GET, which would drop the event) and, like a redirect without a Location or past the
    /// limit, are a failure that is not retried. The result's status is the last answer's. The request timeout
    /// covers the whole attempt.
    /// </summary>
    public async Task<SendResult> SendAsync(CloudEvent cloudEvent, CancellationToken cancellationToken)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(_options.RequestTimeout);
        var remembered = Volatile.Read(ref _permanent);
        var target = remembered ?? _target;
        Uri? permanent = null;
        var onlyPermanent = true;
        try
        {
            for (var hops = 0; ; hops++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, target)
                {
                    Content = _mode == ContentMode.Binary
                        ? BinaryModeContent.Create(cloudEvent, PayloadJsonFormatter.Instance)
                        : cloudEvent.ToHttpContent(_mode, PayloadJsonFormatter.Instance),
                };
                if (_token is not null && SameOrigin(target, _target))
                {
                    // The token is for the sink's audience: never sent to another origin a redirect points at.
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token.Read());
                }
                using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attempt.Token).ConfigureAwait(false);
                var status = (int)response.StatusCode;
                if (RetryPolicy.IsSuccessStatus(status))
                {
                    if (permanent is not null)
                    {
                        // Only a chain of 308s moves the sink for good; a 307 anywhere in it is temporary.
                        Volatile.Write(ref _permanent, permanent);
                    }
                    // An ack's body is never used: disposing the response drains it, no buffer per event.
                    return SendResult.Ack(status);
                }
                if (status is 307 or 308 && response.Headers.Location is { } location)
                {
                    var next = Resolve(target, location);
                    var refusal = !SinkAddress.IsHttp(next) ? "not an http or https URL"
                        : target.Scheme == Uri.UriSchemeHttps && next.Scheme == Uri.UriSchemeHttp ? "it would go from https to http"
                        : hops >= MaxRedirects ? $"more than {MaxRedirects} redirects in a row"
                        : null;
                    if (refusal is not null)
                    {
                        Forget(remembered);
                        return await RedirectRefusedAsync(response, status, $"redirect to {Describe(next)} not followed: {refusal}", attempt.Token).ConfigureAwait(false);
                    }
                    onlyPermanent &= status == 308;
                    permanent = onlyPermanent ? next : null;
                    target = next;
                    continue;
                }
                Forget(remembered);
                if (status is >= 300 and < 400)
                {
                    var to = response.Headers.Location is { } where ? Describe(Resolve(target, where)) : "(no Location)";
                    var why = status is 307 or 308 ? "the answer has no Location header"
                        : status is 301 or 302 or 303 ? $"{status} is only followed with a GET, which would drop the event; make the sink URL the final one"
                        : $"{status} is not a redirect that can be followed";
                    return await RedirectRefusedAsync(response, status, $"redirect to {to} not followed: {why}", attempt.Token).ConfigureAwait(false);
                }
                var body = await ReadStartAsync(response, attempt.Token).ConfigureAwait(false);
                return new SendResult(false, RetryPolicy.IsRetryableStatus(status), status,
                    $"{status} {response.ReasonPhrase}".Trim(), RetryAfter(response), body);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException)
        {
            Forget(remembered);
            return new SendResult(false, true, null, $"no response within {_options.RequestTimeout.TotalSeconds:0.###} s");
        }
        catch (HttpRequestException ex)
        {
            Forget(remembered);
            return new SendResult(false, true, null, NetworkError(ex));
        }
        catch (SinkTokenException ex)
        {
            // The token file is missing or empty for a moment (being replaced): retried like a network error.
            return new SendResult(false, true, null, ex.Message);
        }
    }

    private static bool SameOrigin(Uri a, Uri b) =>
        string.Equals(a.Scheme, b.Scheme, StringComparison.OrdinalIgnoreCase) &&
        string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port;

    /// <summary>Where a 308 (permanent redirect) chain last led, or null: later attempts start there.</summary>
    public Uri? PermanentRedirect => Volatile.Read(ref _permanent);

    /// <summary>
    /// An attempt that began at a remembered 308 target and did not succeed: the next one starts from the
    /// configured URL again, so a sink that stops redirecting (or a target that goes away) is seen at once.
    /// </summary>
    private void Forget(Uri? remembered)
    {
        if (remembered is not null)
        {
            Interlocked.CompareExchange(ref _permanent, null, remembered);
        }
    }

    /// <summary>A Location against the URL that answered. "/path" is relative (on Unix Uri may read it as a file path).</summary>
    private static Uri Resolve(Uri answered, Uri location) =>
        location.IsAbsoluteUri && !(location.IsFile && location.OriginalString.StartsWith('/'))
            ? location
            : new Uri(answered, location.OriginalString);

    private static async Task<SendResult> RedirectRefusedAsync(HttpResponseMessage response, int status, string error, CancellationToken cancellationToken) =>
        new(false, false, status, error, null, await ReadStartAsync(response, cancellationToken).ConfigureAwait(false));

    /// <summary>The URI without user info, query or fragment: safe for logs.</summary>
    public static string Describe(Uri uri) =>
        uri.IsAbsoluteUri ? new UriBuilder(uri) { UserName = string.Empty, Password = string.Empty, Query = string.Empty, Fragment = string.Empty }.Uri.ToString() : uri.OriginalString;

    private static async Task<string?> ReadStartAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        // Read at most 1 KiB: enough for a dead letter's knativeerrordata; the rest is discarded with the response.
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new byte[MaxBodyKept];
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false);
            if (n == 0) break;
            read += n;
        }
        return read == 0 ? null : Encoding.UTF8.GetString(buffer, 0, read);
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta) return delta;
        if (header?.Date is { } date)
        {
            var wait = date - DateTimeOffset.UtcNow;
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }
        return null;
    }

    private static string NetworkError(HttpRequestException ex)
    {
        var message = ex.Message;
        for (var inner = ex.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is AuthenticationException or System.Net.Sockets.SocketException or IOException)
            {
                message += " (" + inner.Message + ")";
                break;
            }
        }
        return message;
    }

    internal static X509Certificate2Collection LoadCertificates(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The CA certificate file '{path}' does not exist.", path);
        }
        var certificates = new X509Certificate2Collection();
        var text = File.ReadAllText(path);
        if (text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
        {
            certificates.ImportFromPem(text);
        }
        else
        {
#pragma warning disable SYSLIB0057 // net8.0 has no X509CertificateLoader
            certificates.Add(new X509Certificate2(File.ReadAllBytes(path)));
#pragma warning restore SYSLIB0057
        }
        if (certificates.Count == 0)
        {
            throw new InvalidDataException($"The CA certificate file '{path}' holds no certificate.");
        }
        return certificates;
    }

    /// <summary>
    /// The certificates of PEM text (K_CA_CERTS). The message of a failure says what is wrong, never the text itself.
    /// </summary>
    /// <exception cref="FormatException">No certificate in it, or one that cannot be read.</exception>
    internal static X509Certificate2Collection ParsePemCertificates(string pem)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(pem);
        }
        catch (System.Security.Cryptography.CryptographicException ex)
        {
            throw new FormatException($"a PEM certificate in it cannot be read ({ex.Message.TrimEnd('.')}).", ex);
        }
        return certificates.Count > 0
            ? certificates
            : throw new FormatException("holds no PEM certificate (a -----BEGIN CERTIFICATE----- ... -----END CERTIFICATE----- block).");
    }

    /// <summary>Valid for the system, or: the name matches and the chain ends at one of the given authorities.</summary>
    internal static bool TrustedByCustomAuthority(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2Collection authorities)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            return false;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.NoFlag;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
