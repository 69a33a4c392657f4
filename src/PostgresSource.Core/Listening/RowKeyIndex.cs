using System.Text;
using System.Text.Json;
using Npgsql;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Capture.Snapshots;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Listening;

/// <summary>
/// The primary-key columns of a source's tables, for <see cref="DeliveryOrder.Key"/>: a change's key is its table
/// plus the values of those columns in its payload's "data" (the old row for DELETE, the key alone for a
/// truncated Notify payload). A change with no key (TRUNCATE, a table without a primary key) gets none and is
/// delivered alone, after everything before it.
/// </summary>
internal sealed class RowKeyIndex
{
    private Dictionary<(string Schema, string Table), string[]> _keys;
    private readonly Func<CancellationToken, Task<RowKeyIndex>>? _load;

    public RowKeyIndex(IEnumerable<KeyValuePair<(string Schema, string Table), IReadOnlyList<string>>> keys)
    {
        _keys = keys.Where(k => k.Value.Count > 0).ToDictionary(k => k.Key, k => k.Value.ToArray());
    }

    private RowKeyIndex(Func<CancellationToken, Task<RowKeyIndex>> load)
    {
        _keys = [];
        _load = load;
    }

    /// <summary>An index read from the database when the listener starts (so a wrong host fails where the capture would).</summary>
    public static RowKeyIndex Deferred(ConnectionSettings connection, SourceDefinition source) =>
        new(token => LoadAsync(connection, source, token));

    /// <summary>Reads a deferred index (once); nothing to do for a loaded one.</summary>
    internal async Task EnsureLoadedAsync(CancellationToken cancellationToken)
    {
        if (_load is not null && _keys.Count == 0)
        {
            _keys = (await _load(cancellationToken).ConfigureAwait(false))._keys;
        }
    }

    /// <summary>Reads the primary keys of the source's tables (tables that do not exist yet have none).</summary>
    public static async Task<RowKeyIndex> LoadAsync(ConnectionSettings connection, SourceDefinition source, CancellationToken cancellationToken)
    {
        await using var database = new NpgsqlConnection(connection.ToPrivateConnectionString("PostgresSource keys"));
        await database.OpenAsync(cancellationToken).ConfigureAwait(false);
        var keys = new List<KeyValuePair<(string, string), IReadOnlyList<string>>>();
        foreach (var name in source.Tables)
        {
            if (await TableResolver.ResolveAsync(database, name, cancellationToken).ConfigureAwait(false) is { } table)
            {
                var loaded = await SnapshotTable.LoadAsync(database, table, cancellationToken).ConfigureAwait(false);
                keys.Add(new((table.Schema, table.Name), loaded.KeyColumns));
            }
        }
        return new RowKeyIndex(keys);
    }

    /// <summary>The change's row key, or null when it has none (it then waits for everything before it).</summary>
    public string? KeyOf(CapturedChange change)
    {
        if (change.Operation == ChangeOperation.Truncate || !_keys.TryGetValue((change.Schema, change.Table), out var columns))
        {
            return null;
        }
        try
        {
            using var document = JsonDocument.Parse(change.PayloadJson);
            if (!document.RootElement.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Object)
            {
                return null;
            }
            var key = new StringBuilder(change.Schema).Append('\0').Append(change.Table);
            foreach (var column in columns)
            {
                if (!data.TryGetProperty(column, out var value))
                {
                    return null;
                }
                key.Append('\0').Append(value.GetRawText());
            }
            return key.ToString();
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
