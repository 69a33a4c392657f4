using Npgsql;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture.Durable;

/// <summary>Whether an installed Durable journal has the columns this version writes (see <see cref="DurableJournalSql.Columns"/>).</summary>
internal static class JournalColumns
{
    public static async Task<bool> AreCurrentAsync(NpgsqlConnection connection, string name, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT a.attname, a.attnotnull
            FROM pg_catalog.pg_attribute a
            JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = @schema AND c.relname = @table AND a.attnum > 0 AND NOT a.attisdropped
            """, connection);
        command.Parameters.AddWithValue("schema", name);
        command.Parameters.AddWithValue("table", DurableJournalSql.JournalTable);
        var installed = new Dictionary<string, bool>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                installed[reader.GetString(0)] = reader.GetBoolean(1);
            }
        }
        return DurableJournalSql.Columns.All(c => installed.TryGetValue(c.Key, out var notNull) && notNull == c.Value)
            && !DurableJournalSql.RetiredColumns.Any(installed.ContainsKey);
    }
}
