using System.Diagnostics;
using Npgsql;

namespace PostgresSource.Benchmarks;

/// <summary>The P2 writer: one single-row INSERT per autocommit transaction, on a steady schedule.</summary>
internal static class PacedWriter
{
    /// <summary>Inserts <paramref name="total"/> rows at <paramref name="rate"/> per second; returns when each row's INSERT was sent (by row id, monotonic clock) and the rate achieved.</summary>
    public static async Task<(Dictionary<long, long> Sent, double Achieved)> RunAsync(string connectionString, string table, int rate, int total)
    {
        var sent = new Dictionary<long, long>();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var insert = new NpgsqlCommand($"INSERT INTO {table} (customer, item, qty) VALUES (@c, 'widget', 1) RETURNING id", connection);
        var parameter = new NpgsqlParameter<int>("c", 0);
        insert.Parameters.Add(parameter);
        await insert.PrepareAsync();
        var interval = Stopwatch.Frequency / (double)rate;
        var origin = Stopwatch.GetTimestamp();
        for (var i = 0; i < total; i++)
        {
            var due = origin + (long)(i * interval);
            while (Stopwatch.GetTimestamp() < due)
            {
                // Sleep, never spin: a spinning writer takes one of the box's two cores from the listener, the sink
                // and PostgreSQL. A late wake-up is caught up by the absolute schedule (the next rows go at once).
                await Task.Delay(1);
            }
            parameter.TypedValue = i;
            var before = Stopwatch.GetTimestamp();
            var id = (long)(await insert.ExecuteScalarAsync())!;
            sent[id] = before;
        }
        return (sent, total / Stopwatch.GetElapsedTime(origin).TotalSeconds);
    }
}
