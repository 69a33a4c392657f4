using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PostgresSource.Core.Hosting;

/// <summary>An answer to one GET: status code, content type, body.</summary>
internal readonly record struct HealthAnswer(int Status, string ContentType, string Body)
{
    public const string Text = "text/plain; charset=utf-8";

    /// <summary>The Prometheus text exposition format (version 0.0.4).</summary>
    public const string Prometheus = "text/plain; version=0.0.4; charset=utf-8";

    public static HealthAnswer Ok(string body) => new(200, Text, body);

    public static HealthAnswer Unavailable(string body) => new(503, Text, body);
}

/// <summary>
/// The health, readiness, metrics and state endpoints of the adapter and the controller on one port: /healthz (and
/// /livez) answer while the process runs; every other path is the host's (a route table of GET answers).
/// A plain socket server rather than HttpListener: the managed HttpListener on Linux crashes in Start()
/// when a client connects at that moment (dotnet/corefx#35191), which is exactly when kubelet probes a
/// starting pod. Each probe is one GET answered with Connection: close.
/// </summary>
internal sealed class HealthServer : IAsyncDisposable
{
    private const int MaxRequestBytes = 8192;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);
    private readonly TcpListener _listener;
    private readonly IReadOnlyDictionary<string, Func<HealthAnswer>> _routes;
    private readonly JsonLog _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public HealthServer(int port, IReadOnlyDictionary<string, Func<HealthAnswer>> routes, JsonLog log)
    {
        _routes = routes;
        _log = log;
        _listener = Listen(port);
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>The port listened on (the one the system chose when 0 was asked for).</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>All addresses, IPv4 and IPv6 where the host has IPv6, as "http://+:port/" meant.</summary>
    private static TcpListener Listen(int port)
    {
        if (Socket.OSSupportsIPv6)
        {
            var dual = new TcpListener(IPAddress.IPv6Any, port);
            try
            {
                dual.Server.DualMode = true;
                dual.Start();
                return dual;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.AddressFamilyNotSupported or SocketError.AddressNotAvailable)
            {
                dual.Stop();
            }
        }
        var v4 = new TcpListener(IPAddress.Any, port);
        v4.Start();
        return v4;
    }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = Task.Run(() => AnswerAsync(client));
        }
    }

    private async Task AnswerAsync(TcpClient client)
    {
        using (client)
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
        {
            timeout.CancelAfter(RequestTimeout);
            try
            {
                var stream = client.GetStream();
                var path = await ReadPathAsync(stream, timeout.Token).ConfigureAwait(false);
                var (status, contentType, body) = path switch
                {
                    null => new HealthAnswer(400, HealthAnswer.Text, "bad request\n"),
                    "/healthz" or "/livez" => HealthAnswer.Ok("ok\n"),
                    _ when _routes.TryGetValue(path, out var answer) => answer(),
                    _ => new HealthAnswer(404, HealthAnswer.Text, "not found\n"),
                };
                var bytes = Encoding.UTF8.GetBytes(body);
                var head = $"HTTP/1.1 {status} {Reason(status)}\r\nContent-Type: {contentType}\r\nContent-Length: {bytes.Length}\r\nConnection: close\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(head), timeout.Token).ConfigureAwait(false);
                await stream.WriteAsync(bytes, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                if (!_stop.IsCancellationRequested)
                {
                    _log.Warn("health endpoint answer failed", ("error", ex.Message));
                }
            }
        }
    }

    /// <summary>The path of a GET request line, once the headers ended; null for anything else.</summary>
    private static async Task<string?> ReadPathAsync(NetworkStream stream, CancellationToken token)
    {
        var buffer = new byte[MaxRequestBytes];
        var length = 0;
        while (length < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(length), token).ConfigureAwait(false);
            if (read == 0)
            {
                return null;
            }
            length += read;
            var text = Encoding.ASCII.GetString(buffer, 0, length);
            if (text.Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var parts = text[..text.IndexOf("\r\n", StringComparison.Ordinal)].Split(' ');
                if (parts.Length != 3 || parts[0] != "GET")
                {
                    return null;
                }
                var target = parts[1];
                var query = target.IndexOf('?', StringComparison.Ordinal);
                return query < 0 ? target : target[..query];
            }
        }
        return null;
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Service Unavailable",
    };

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
