using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace PostgresSource.Adapter.Tests;

/// <summary>The built adapter (out/adapter/PostgresSource.Adapter.dll) running as a child process with a given environment.</summary>
internal sealed class AdapterProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];
    private readonly TaskCompletionSource _outputDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _errorDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private AdapterProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }
    public Uri BaseUrl => new($"http://127.0.0.1:{Port}/");

    public IReadOnlyList<string> Stdout { get { lock (_stdout) return _stdout.ToList(); } }
    public IReadOnlyList<string> Stderr { get { lock (_stderr) return _stderr.ToList(); } }

    /// <summary>Every stdout line parsed as JSON (a line that is not JSON fails the test that reads this).</summary>
    public IReadOnlyList<JsonElement> Logs => Stdout.Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToList();

    public static string AdapterPath
    {
        get
        {
            for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            {
                var candidate = Path.Combine(directory.FullName, "out", "adapter", "PostgresSource.Adapter.dll");
                if (File.Exists(Path.Combine(directory.FullName, "PostgresSource.sln")))
                {
                    return File.Exists(candidate) ? candidate : throw new FileNotFoundException("Build the solution first: out/adapter/ is missing.", candidate);
                }
            }
            throw new InvalidOperationException("Cannot find the repository root.");
        }
    }

    public static AdapterProcess Start(IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var port = environment.TryGetValue("PGSOURCE_HTTP_PORT", out var p) && int.TryParse(p, out var parsed) ? parsed : 0;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(AdapterPath);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        // Nothing from the test's own environment may configure the adapter by accident.
        foreach (var key in start.Environment.Keys.ToList())
        {
            if (key.StartsWith("PG", StringComparison.Ordinal) || key.StartsWith("K_", StringComparison.Ordinal) ||
                key is "NAME" or "NAMESPACE" or "EVENT_SOURCE" or "NOTIFICATION_CHANNEL")
            {
                start.Environment.Remove(key);
            }
        }
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var adapter = new AdapterProcess(process, port);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) adapter._outputDone.TrySetResult();
            else lock (adapter._stdout) adapter._stdout.Add(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) adapter._errorDone.TrySetResult();
            else lock (adapter._stderr) adapter._stderr.Add(e.Data);
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return adapter;
    }

    /// <summary>Waits for the process to exit; returns its exit code (all output read).</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        await Task.WhenAll(_outputDone.Task, _errorDone.Task).WaitAsync(TimeSpan.FromSeconds(5));
        return _process.ExitCode;
    }

    public bool HasExited => _process.HasExited;

    public void SendSigterm()
    {
        if (kill(_process.Id, 15) != 0)
        {
            throw new InvalidOperationException("kill(SIGTERM) failed: " + Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>kill -9: the process gets no chance to drain, acknowledge or clean up.</summary>
    public async Task KillHardAsync()
    {
        if (kill(_process.Id, 9) != 0)
        {
            throw new InvalidOperationException("kill(SIGKILL) failed: " + Marshal.GetLastPInvokeError());
        }
        await _process.WaitForExitAsync();
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    public async Task<JsonElement> WaitForLogAsync(Func<JsonElement, bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            foreach (var line in Logs)
            {
                if (match(line)) return line;
            }
            if (_process.HasExited) break;
            await Task.Delay(25);
        }
        foreach (var line in Logs)
        {
            if (match(line)) return line;
        }
        throw new TimeoutException("No matching log line. Output:\n" + string.Join("\n", Stdout) + "\nErrors:\n" + string.Join("\n", Stderr));
    }

    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
