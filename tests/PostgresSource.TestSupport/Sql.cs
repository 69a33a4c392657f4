using Npgsql;

namespace PostgresSource.TestSupport;

/// <summary>Small helpers for tests to set up and inspect a database directly.</summary>
public static class TestSql
{
    public static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync().ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    public static async Task<T?> ScalarAsync<T>(string connectionString, string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync().ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        var result = await command.ExecuteScalarAsync().ConfigureAwait(false);
        return result is null or DBNull ? default : (T)result;
    }

    /// <summary>Names of every object in the database that a source could have made (functions, triggers, tables).</summary>
    public static async Task<IReadOnlyList<string>> SourceObjectsAsync(string connectionString)
    {
        const string query = """
            SELECT 'function ' || proname FROM pg_proc WHERE proname LIKE 'postgressource%'
            UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE tgname LIKE 'postgressource%'
            UNION ALL SELECT 'table ' || relname FROM pg_class WHERE relname LIKE 'postgressource%'
            ORDER BY 1
            """;
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync().ConfigureAwait(false);
        await using var command = new NpgsqlCommand(query, connection);
        await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
        var names = new List<string>();
        while (await reader.ReadAsync().ConfigureAwait(false))
        {
            names.Add(reader.GetString(0));
        }
        return names;
    }
}
