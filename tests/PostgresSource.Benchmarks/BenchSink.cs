using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace PostgresSource.Benchmarks;

/// <summary>
/// The local HTTP sink: Kestrel on loopback, answers 202 with no body and counts requests. It reads the
/// body only when latency is recorded (P2: receipt time by row id) and can be made slow (P4).
/// </summary>
internal sealed class BenchSink : IAsyncDisposable
{
    private readonly WebApplication _app;
    private long _count;

    private BenchSink(WebApplication app) => _app = app;

    public Uri Uri { get; private set; } = null!;
    public long Count => Interlocked.Read(ref _count);
    public volatile bool RecordReceipts;
    public TimeSpan Delay;
    public ConcurrentDictionary<long, long> Receipts { get; } = new();
    public long FirstTimestamp;
    public long LastTimestamp;

    public static async Task<BenchSink> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var sink = new BenchSink(app);
        app.Run(sink.HandleAsync);
        await app.StartAsync();
        sink.Uri = new Uri(app.Urls.First());
        return sink;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var now = Stopwatch.GetTimestamp();
        if (RecordReceipts)
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body);
            if (document.RootElement.TryGetProperty("data", out var data) && data.TryGetProperty("id", out var id))
            {
                Receipts[id.GetInt64()] = now;
            }
        }
        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay);
        }
        if (Interlocked.Increment(ref _count) == 1)
        {
            FirstTimestamp = now;
        }
        LastTimestamp = Stopwatch.GetTimestamp();
        context.Response.StatusCode = 202;
    }

    public void Reset()
    {
        Interlocked.Exchange(ref _count, 0);
        Receipts.Clear();
        FirstTimestamp = LastTimestamp = 0;
    }

    public async Task<bool> WaitForAsync(long count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Count < count)
        {
            if (DateTime.UtcNow > deadline) return false;
            await Task.Delay(5);
        }
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
