using System.Net;
using System.Text.RegularExpressions;

namespace PostgresSource.TestSupport;

/// <summary>
/// The pods/proxy subresource: GET /api/v1/namespaces/NS/pods/NAME:PORT/proxy/PATH is forwarded to the stored pod's
/// status.podIP, as the API server forwards it to the kubelet. A pod that does not exist, or is not running, is 404 or 503.
/// </summary>
public sealed partial class FakeKubernetesApiServer
{
    private static readonly HttpClient ProxyClient = new() { Timeout = TimeSpan.FromSeconds(5) };

    [GeneratedRegex("^/api/v1/namespaces/(?<ns>[^/]+)/pods/(?<pod>[^/:]+):(?<port>[0-9]+)/proxy(?<path>/.*)?$")]
    private static partial Regex PodProxyPath();

    private static bool IsPodProxy(RecordedRequest request) => request.Method == "GET" && PodProxyPath().IsMatch(request.Path);

    private async Task ServePodProxyAsync(HttpListenerContext context, RecordedRequest request)
    {
        var match = PodProxyPath().Match(request.Path);
        var pod = Find(string.Empty, "pods", match.Groups["ns"].Value, match.Groups["pod"].Value);
        var ip = (string?)pod?["status"]?["podIP"];
        if (pod is null || ip is null)
        {
            await WriteAllAsync(context.Response, pod is null ? 404 : 503,
                Status(pod is null ? 404 : 503, pod is null ? "NotFound" : "ServiceUnavailable", $"pods \"{match.Groups["pod"].Value}\" cannot be proxied")).ConfigureAwait(false);
            return;
        }
        var target = new Uri($"http://{ip}:{match.Groups["port"].Value}{(match.Groups["path"].Success ? match.Groups["path"].Value : "/")}");
        try
        {
            using var forwarded = await ProxyClient.GetAsync(target).ConfigureAwait(false);
            var bytes = await forwarded.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
            context.Response.StatusCode = (int)forwarded.StatusCode;
            context.Response.ContentType = forwarded.Content.Headers.ContentType?.ToString() ?? "text/plain";
            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
            context.Response.Close();
        }
        catch (HttpRequestException ex)
        {
            await WriteAllAsync(context.Response, 503, Status(503, "ServiceUnavailable", "error trying to reach service: " + ex.Message)).ConfigureAwait(false);
        }
    }
}
