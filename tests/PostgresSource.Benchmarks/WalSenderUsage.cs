using PostgresSource.TestSupport;

namespace PostgresSource.Benchmarks;

/// <summary>
/// The CPU a Logical source's walsender (the server process that decodes the WAL for the slot) used while
/// the writer ran: the database host pays this wherever the listener runs. Read from /proc, so only for a
/// local cluster; null where the process is not visible (a container).
/// </summary>
internal sealed class WalSenderUsage
{
    private readonly int _pid;
    private readonly double _startCpu;

    private WalSenderUsage(int pid, double startCpu)
    {
        _pid = pid;
        _startCpu = startCpu;
    }

    /// <summary>Starts measuring the walsender streaming <paramref name="slot"/>, if one is active and visible.</summary>
    public static async Task<WalSenderUsage?> StartAsync(string connectionString, string slot)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var pid = await TestSql.ScalarAsync<int?>(connectionString, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = @n", ("n", slot));
            if (pid is { } p)
            {
                return CpuSeconds(p) is { } cpu ? new WalSenderUsage(p, cpu) : null;
            }
            await Task.Delay(100);
        }
        return null;
    }

    /// <summary>CPU seconds used since <see cref="StartAsync"/>, or null when the process is gone.</summary>
    public double? Elapsed() => CpuSeconds(_pid) is { } now ? now - _startCpu : null;

    private static double? CpuSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11]) + long.Parse(fields[12])) / 100.0; // utime, stime in clock ticks (100/s)
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
