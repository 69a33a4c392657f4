using System.Diagnostics;
using System.Text.Json;

namespace PostgresSource.TestReceivers;

/// <summary>
/// The receiver in tests/cloudevents-receiver: the JavaScript CloudEvents SDK, an independent
/// implementation, validating every event strictly. Runs `npm ci` first when node_modules is missing.
/// </summary>
public sealed class NodeCloudEventsReceiver : IAsyncDisposable
{
    private readonly Process _process;
    private readonly HttpClient _client = new();

    private NodeCloudEventsReceiver(Process process, Uri url)
    {
        _process = process;
        Url = url;
    }

    public Uri Url { get; }

    /// <summary>Null when node is not installed: the caller skips with that reason.</summary>
    public static string? Unavailable() =>
        FindOnPath("node") is null ? "node is not installed (the npm cloudevents receiver needs Node.js 20 or later)" : null;

    public static async Task<NodeCloudEventsReceiver> StartAsync(string repositoryRoot)
    {
        var directory = Path.Combine(repositoryRoot, "tests", "cloudevents-receiver");
        if (!Directory.Exists(Path.Combine(directory, "node_modules", "cloudevents")))
        {
            var npm = FindOnPath("npm") ?? throw new InvalidOperationException("npm is not installed; cannot install the cloudevents receiver's packages.");
            var install = Process.Start(new ProcessStartInfo(npm, "ci --no-audit --no-fund")
            {
                WorkingDirectory = directory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var output = install.StandardError.ReadToEndAsync();
            _ = install.StandardOutput.ReadToEndAsync();
            await install.WaitForExitAsync().ConfigureAwait(false);
            if (install.ExitCode != 0)
            {
                throw new InvalidOperationException("npm ci failed in tests/cloudevents-receiver: " + await output.ConfigureAwait(false));
            }
        }

        var process = Process.Start(new ProcessStartInfo(FindOnPath("node")!, "server.js 0")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        _ = process.StandardError.ReadToEndAsync();
        var first = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false)
            ?? throw new InvalidOperationException("The node receiver exited before listening.");
        var port = JsonDocument.Parse(first).RootElement.GetProperty("port").GetInt32();
        return new NodeCloudEventsReceiver(process, new Uri($"http://127.0.0.1:{port}/"));
    }

    /// <summary>What the receiver accepted and rejected so far (GET /events).</summary>
    public async Task<(IReadOnlyList<JsonElement> Accepted, IReadOnlyList<JsonElement> Rejected)> EventsAsync()
    {
        var text = await _client.GetStringAsync(new Uri(Url, "events")).ConfigureAwait(false);
        var root = JsonDocument.Parse(text).RootElement.Clone();
        return (root.GetProperty("accepted").EnumerateArray().ToList(), root.GetProperty("rejected").EnumerateArray().ToList());
    }

    internal static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator)
            .Select(d => Path.Combine(d, name))
            .FirstOrDefault(File.Exists);

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }
        _process.Dispose();
    }
}
