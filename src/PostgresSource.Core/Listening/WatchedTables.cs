using Npgsql;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Listening;

/// <summary>
/// Watches that the tables a source names are still there under those names: a table renamed or dropped while the
/// source runs is reported once (its capture does not stop with an error: triggers and publications follow a renamed
/// table, and a dropped one simply has no more changes), so the operator hears of it instead of silence. Reads by the
/// tables' oids, on a short-lived connection of its own.
/// </summary>
internal sealed class WatchedTables(SourceDefinition source, ConnectionSettings connection)
{
    private readonly string _connectionString = connection.ToPrivateConnectionString("PostgresSource table watch");
    private readonly Dictionary<uint, (string Schema, string Name)> _named = [];
    private readonly HashSet<string> _reported = [];
    private bool _resolved;

    /// <summary>How many of the source's tables are not where it names them (renamed, dropped or never found).</summary>
    public int Missing { get; private set; }

    /// <summary>One sentence per new finding since the last check; the first check records the tables as they are.</summary>
    public async Task<IReadOnlyList<string>> CheckAsync(CancellationToken cancellationToken)
    {
        await using var database = new NpgsqlConnection(_connectionString);
        await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var findings = new List<string>();
        if (!_resolved)
        {
            foreach (var table in source.Tables)
            {
                if (await TableResolver.ResolveAsync(database, table, cancellationToken).ConfigureAwait(false) is { } found)
                {
                    _named[found.Oid] = (found.Schema, found.Name);
                }
                else
                {
                    Report(findings, $"missing {table}", $"Table {table}, which source {source.EventSource} names, does not exist: nothing of it is captured.");
                }
            }
            _resolved = true;
            Missing = source.Tables.Count - _named.Count;
            return findings;
        }

        const string query = """
            SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = ANY (@oids)
            """;
        var now = new Dictionary<uint, (string Schema, string Name)>();
        await using (var command = new NpgsqlCommand(query, database))
        {
            command.Parameters.AddWithValue("oids", NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Oid, _named.Keys.ToArray());
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                now[reader.GetFieldValue<uint>(0)] = (reader.GetString(1), reader.GetString(2));
            }
        }
        var missing = source.Tables.Count - _named.Count;
        foreach (var (oid, (schema, name)) in _named)
        {
            if (!now.TryGetValue(oid, out var current))
            {
                missing++;
                Report(findings, $"dropped {oid}",
                    $"Table {schema}.{name} was dropped while source {source.EventSource} runs: no more of its changes will come. " +
                    "Remove it from the source's tables, or create it again and install the source again.");
            }
            else if (current != (schema, name))
            {
                missing++;
                Report(findings, $"renamed {oid} {current.Schema}.{current.Name}",
                    $"Table {schema}.{name} was renamed to {current.Schema}.{current.Name} while source {source.EventSource} runs: its changes are " +
                    $"still captured, and its events now name {current.Schema}.{current.Name}. Rename it in the source's tables too, or the next install will not find it.");
            }
        }
        Missing = missing;
        return findings;
    }

    private void Report(List<string> findings, string key, string message)
    {
        if (_reported.Add(key))
        {
            findings.Add(message);
        }
    }
}
