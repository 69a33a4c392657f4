using Npgsql;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Capture.Notify;
using PostgresSource.Core.Capture.Durable;
using PostgresSource.Core.Capture.Logical;

namespace PostgresSource.Core.Database;

/// <summary>
/// Reads what sources are installed in a database, in every mode: Notify functions and triggers (also the
/// original Go controller's, recognised by the name rule), Durable journals and triggers, Logical
/// publications and slots.
/// </summary>
internal static class TriggerInspector
{
    public static async Task<IReadOnlyList<InstalledSourceObject>> ListAsync(
        ConnectionSettings connection, CancellationToken cancellationToken = default)
    {
        await using var npgsql = new NpgsqlConnection(connection.ToNpgsqlConnectionString());
        await npgsql.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await ListAsync(npgsql, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<IReadOnlyList<InstalledSourceObject>> ListAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var rows = new List<InstalledSourceObject>();
        rows.AddRange(await NotifyTriggerListing.ListAsync(connection, cancellationToken).ConfigureAwait(false));
        rows.AddRange(await DurableJournalListing.ListAsync(connection, cancellationToken).ConfigureAwait(false));
        rows.AddRange(await LogicalReplicationListing.ListAsync(connection, cancellationToken).ConfigureAwait(false));
        return rows
            .OrderBy(r => r.ObjectName, StringComparer.Ordinal)
            .ThenBy(r => r.Mode)
            .ThenBy(r => r.TableSchema, StringComparer.Ordinal)
            .ThenBy(r => r.Table, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>
    /// The state of one source: a row per table it names (captured or not), plus rows for what it captures
    /// on tables it no longer names. A table's missing row takes the mode found for the source (its own mode,
    /// and Flavor "none", when nothing is installed).
    /// </summary>
    public static async Task<IReadOnlyList<InstalledSourceObject>> ForSourceAsync(
        SourceDefinition source, ConnectionSettings connection, CancellationToken cancellationToken = default)
    {
        await using var npgsql = new NpgsqlConnection(connection.ToNpgsqlConnectionString());
        await npgsql.OpenAsync(cancellationToken).ConfigureAwait(false);
        var mine = (await ListAsync(npgsql, cancellationToken).ConfigureAwait(false))
            .Where(r => r.ObjectName == source.DatabaseObjectName)
            .ToList();
        // Source-level facts (function, journal, slot) come from the source's own mode if it is installed, else from what is.
        var installed = mine.FirstOrDefault(r => r.Mode == source.Mode) ?? mine.FirstOrDefault();

        var rows = new List<InstalledSourceObject>();
        foreach (var table in source.Tables)
        {
            var resolved = await TableResolver.ResolveAsync(npgsql, table, cancellationToken).ConfigureAwait(false);
            var row = resolved is null ? null : mine.FirstOrDefault(r => r.TableSchema == resolved.Schema && r.Table == resolved.Name);
            rows.Add(row ?? new InstalledSourceObject
            {
                ObjectName = source.DatabaseObjectName,
                SourceName = source.Name,
                Uid = source.Uid,
                Mode = installed?.Mode ?? source.Mode,
                FunctionSchema = installed?.FunctionSchema,
                FunctionPresent = installed?.FunctionPresent ?? false,
                Flavor = installed?.Flavor ?? "none",
                JournalBacklog = installed?.JournalBacklog,
                Slot = installed?.Slot,
                TableSchema = resolved?.Schema ?? table.Schema,
                Table = resolved?.Name ?? table.Name,
            });
        }
        rows.AddRange(mine.Where(r => r.Table is not null && !rows.Contains(r)));
        return rows;
    }
}
