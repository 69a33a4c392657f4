using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace PostgresSource.TestSupport;

/// <summary>
/// What the sink-outage fault tests share: writers of an <c>items (id bigint PRIMARY KEY, writer int, body text)</c>
/// table, the committed ids, the row ids in delivered event bodies, and LSN arithmetic for slot checks.
/// </summary>
public static class OutageWorkload
{
    public const string ItemsTable = "CREATE TABLE items (id bigint PRIMARY KEY, writer int NOT NULL, body text NOT NULL)";

    /// <summary>Small transactions (1 to 9 rows) with pauses of 50 to 450 ms, so the writes spread over the outage.</summary>
    public static async Task WriteAsync(string connectionString, int writer, int rows)
    {
        var random = new Random(writer);
        for (var next = 0; next < rows;)
        {
            var batch = Math.Min(rows - next, random.Next(1, 10));
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var insert = new NpgsqlCommand(
                "INSERT INTO items SELECT @base + g, @w, 'row ' || (@base + g) FROM generate_series(0, @n - 1) g", connection);
            insert.Parameters.AddWithValue("base", NpgsqlDbType.Bigint, (long)writer * 1_000_000 + next);
            insert.Parameters.AddWithValue("w", writer);
            insert.Parameters.AddWithValue("n", batch);
            await insert.ExecuteNonQueryAsync();
            next += batch;
            await Task.Delay(random.Next(50, 450));
        }
    }

    public static async Task<HashSet<long>> CommittedIdsAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT id FROM items", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new HashSet<long>();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetInt64(0));
        }
        return ids;
    }

    /// <summary>Two counts read by one statement, so in one snapshot.</summary>
    public static async Task<(long, long)> CountsAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>The row ids (data.id) in event bodies (binary mode: the body is the payload).</summary>
    public static HashSet<long> RowIds(IEnumerable<byte[]> bodies)
    {
        var ids = new HashSet<long>();
        foreach (var body in bodies)
        {
            using var payload = JsonDocument.Parse(body);
            ids.Add(payload.RootElement.GetProperty("data").GetProperty("id").GetInt64());
        }
        return ids;
    }

    /// <summary>An LSN's text form (X/Y) as a number.</summary>
    public static ulong Lsn(string text)
    {
        var parts = text.Split('/');
        return (Convert.ToUInt64(parts[0], 16) << 32) | Convert.ToUInt64(parts[1], 16);
    }
}
