using System.Diagnostics;
using Npgsql;

namespace PostgresSource.Benchmarks;

/// <summary>The P2 writer: one single-row INSERT per autocommit transaction, on a steady schedule.</summary>
internal static class PacedWriter
{
    /// <summary>Inserts <paramref name="total"/> rows at <paramref name="rate"/> per second; returns when each row's INSERT was sent (by row id, monotonic clock) and the rate achieved.</summary>
    /// <remarks>
    /// Runs on a thread of its own and sleeps with <see cref="Thread.Sleep(int)"/> (about 1.1 ms here) until each row is due:
    /// async waits (Task.Delay, timed SemaphoreSlim waits) wake only every ~4 ms on this kernel, which would send rows in
    /// clumps of four, and spinning instead would take one of the box's two cores from the listener, the sink and PostgreSQL.
    /// </remarks>
    public static Task<(Dictionary<long, long> Sent, double Achieved)> RunAsync(string connectionString, string table, int rate, int total) =>
        Task.Factory.StartNew(() => Run(connectionString, table, rate, total), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static (Dictionary<long, long> Sent, double Achieved) Run(string connectionString, string table, int rate, int total)
    {
        var sent = new Dictionary<long, long>(total);
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using var insert = new NpgsqlCommand($"INSERT INTO {table} (customer, item, qty) VALUES (@c, 'widget', 1) RETURNING id", connection);
        var parameter = new NpgsqlParameter<int>("c", 0);
        insert.Parameters.Add(parameter);
        insert.Prepare();
        var interval = Stopwatch.Frequency / (double)rate;
        var origin = Stopwatch.GetTimestamp();
        for (var i = 0; i < total; i++)
        {
            // The schedule is absolute: a late wake-up is caught up by sending the next rows at once.
            var due = origin + (long)(i * interval);
            while (Stopwatch.GetTimestamp() < due)
            {
                Thread.Sleep(1);
            }
            parameter.TypedValue = i;
            var before = Stopwatch.GetTimestamp();
            var id = (long)insert.ExecuteScalar()!;
            sent[id] = before;
        }
        return (sent, total / Stopwatch.GetElapsedTime(origin).TotalSeconds);
    }
}
