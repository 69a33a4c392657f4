using System.Net;
using System.Text;

namespace PostgresSource.Adapter;

/// <summary>/healthz (the process runs), /readyz (connected and listening) and /metrics (Prometheus) on one port.</summary>
internal sealed class HealthServer : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<bool> _ready;
    private readonly Func<string> _metrics;
    private readonly JsonLog _log;
    private readonly Task _loop;

    public HealthServer(int port, Func<bool> ready, Func<string> metrics, JsonLog log)
    {
        _ready = ready;
        _metrics = metrics;
        _log = log;
        _listener.Prefixes.Add($"http://+:{port}/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            _ = Task.Run(() => Answer(context));
        }
    }

    private void Answer(HttpListenerContext context)
    {
        try
        {
            var (status, contentType, body) = context.Request.Url?.AbsolutePath switch
            {
                "/healthz" or "/livez" => (200, "text/plain; charset=utf-8", "ok\n"),
                "/readyz" => _ready() ? (200, "text/plain; charset=utf-8", "ready\n") : (503, "text/plain; charset=utf-8", "not ready: not connected and listening\n"),
                "/metrics" => (200, Metrics.ContentType, _metrics()),
                _ => (404, "text/plain; charset=utf-8", "not found\n"),
            };
            var bytes = Encoding.UTF8.GetBytes(body);
            context.Response.StatusCode = status;
            context.Response.ContentType = contentType;
            context.Response.ContentLength64 = bytes.Length;
            context.Response.OutputStream.Write(bytes);
            context.Response.Close();
        }
        catch (Exception ex) when (ex is HttpListenerException or IOException or ObjectDisposedException)
        {
            _log.Warn("health endpoint answer failed", ("error", ex.Message));
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _loop.ConfigureAwait(false);
    }
}
