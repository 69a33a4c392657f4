using System.Diagnostics;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Database;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Listening;
using PostgresSource.Core.Sources;

namespace PostgresSource.Benchmarks;

/// <summary>
/// A listener in its own process (like the adapter), so its peak RSS (VmHWM) is its own and its CPU
/// competes with the writers as it would on a shared box. Started as: --listener-child conn sink mode table.
/// </summary>
internal sealed class ListenerChild : IAsyncDisposable
{
    private readonly Process _process;

    private ListenerChild(Process process) => _process = process;

    public int Pid => _process.Id;

    public static async Task<ListenerChild> StartAsync(string connectionString, Uri sink, SourceDefinition source)
    {
        // Through the muxer (dotnet PostgresSource.Benchmarks.dll) whatever process hosts this code.
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        start.ArgumentList.Add(typeof(ListenerChild).Assembly.Location);
        // The filters travel as the adapter reads them (PGSOURCE_TABLE_FILTERS' JSON); "-" for none.
        foreach (var a in new[] { "--listener-child", connectionString, sink.ToString(), source.Mode.ToString(), source.Tables[0].ToString()!, source.Name, TableEntries.FormatFilters(source) ?? "-" })
        {
            start.ArgumentList.Add(a);
        }
        start.Environment["DOTNET_gcServer"] = "0";
        var process = Process.Start(start)!;
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
        if (line != "READY")
        {
            process.Kill();
            throw new InvalidOperationException($"listener child did not start: {line}");
        }
        return new ListenerChild(process);
    }

    /// <summary>Peak resident set (VmHWM) and current (VmRSS) in MB.</summary>
    public (double Peak, double Current) Memory()
    {
        double peak = 0, current = 0;
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith("VmHWM:")) peak = ParseKb(line) / 1024.0;
            if (line.StartsWith("VmRSS:")) current = ParseKb(line) / 1024.0;
        }
        return (peak, current);
    }

    private static double ParseKb(string line) => double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);

    /// <summary>CPU seconds (user + system) the last disposed child used in its life, and its life in seconds.</summary>
    public static (double Cpu, double Wall) LastUsage { get; private set; }

    private readonly long _started = Stopwatch.GetTimestamp();

    private double CpuSeconds()
    {
        var stat = File.ReadAllText($"/proc/{_process.Id}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11]) + long.Parse(fields[12])) / 100.0; // utime, stime in clock ticks (100/s)
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            LastUsage = (CpuSeconds(), Stopwatch.GetElapsedTime(_started).TotalSeconds);
        }
        catch (IOException)
        {
        }
        try
        {
            await _process.StandardInput.DisposeAsync(); // closing stdin stops the child
            if (!_process.WaitForExit(5000)) _process.Kill(true);
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }

    /// <summary>The child's side: run a listener until stdin closes.</summary>
    public static async Task<int> RunChildAsync(string[] args)
    {
        var connectionString = args[1];
        var mode = Enum.Parse<CaptureMode>(args[3]);
        IReadOnlyList<TableName> tables = [TableName.Parse(args[4])];
        var filters = args.Length > 6 && args[6] != "-" ? TableEntries.ParseFilters(args[6], tables, "filters") : [];
        var source = new SourceDefinition { Name = args[5], Tables = tables, Filters = filters, Mode = mode }.Validate();
        var settings = ConnectionSettings.Parse(connectionString);
        await using var listener = new SourceListener(source, ChangeCaptureFactory.Create(source, settings),
            new EventDeliverer(new HttpEventSink(new Uri(args[2]))));
        using var stop = new CancellationTokenSource();
        var run = listener.RunAsync(stop.Token);
        while (!listener.IsReady)
        {
            if (run.IsCompleted) { await run; return 1; }
            await Task.Delay(5);
        }
        Console.WriteLine("READY");
        await Task.Run(() => Console.In.ReadToEnd());
        stop.Cancel();
        try { await run; } catch (OperationCanceledException) { }
        return 0;
    }
}
