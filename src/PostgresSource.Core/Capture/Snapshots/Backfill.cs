using Npgsql;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Capture.Snapshots;

/// <summary>
/// Backfill on demand: asks the source's capture to read some of its tables again, whole, while it runs (or when it
/// next starts), as "read" events. The request is a row in the source's snapshot table; the running capture takes it
/// between two reads of its stream (<see cref="CaptureOptions.BackfillCheckInterval"/>), holds the stream while it
/// reads the tables in one snapshot, and goes on from where it was, leaving out the changes that snapshot already
/// holds: no change is lost, and a row's later changes come after its read event, never before. Progress is kept as
/// for the initial snapshot, so a capture killed halfway resumes the backfill after its last acknowledged row.
/// Durable and Logical only: Notify keeps no position to go on from.
/// </summary>
internal static class Backfill
{
    /// <summary>
    /// Logical: the prefix of the logical decoding message a request writes into the WAL, so that a capture whose
    /// stream is idle hears of it at once (at that transaction's end) instead of at the next change.
    /// </summary>
    public const string WakeMessagePrefix = "pgsource-backfill";

    /// <summary>Records the request; returns the tables as the database names them.</summary>
    /// <param name="tables">Some of the source's tables; none: all of them.</param>
    /// <exception cref="NotSupportedException">The source captures in Notify mode.</exception>
    /// <exception cref="SourceValidationException">A table is not one of the source's.</exception>
    /// <exception cref="MissingTablesException">A table does not exist.</exception>
    /// <exception cref="CaptureConfigurationException">The source is not installed in its mode.</exception>
    public static async Task<IReadOnlyList<ResolvedTable>> RequestAsync(
        SourceDefinition source, ConnectionSettings connection, IReadOnlyList<TableName>? tables, CancellationToken cancellationToken)
    {
        if (source.Mode == CaptureMode.Notify)
        {
            throw new NotSupportedException(
                $"Source {source.EventSource} captures in Notify mode, which has no backfill: it delivers at most once and keeps no stream position to go on from. Use Durable or Logical mode.");
        }
        var wanted = tables is { Count: > 0 } ? tables : source.Tables;
        if (wanted.FirstOrDefault(t => !source.Tables.Contains(t)) is { } stranger)
        {
            throw new SourceValidationException("tables", $"Table '{stranger}' is not one of the tables of source {source.EventSource} ({TableName.FormatList(source.Tables)}).");
        }
        var name = source.DatabaseObjectName;
        await using var npgsql = await DatabaseConnection.OpenAsync(connection.ToPrivateConnectionString("PostgresSource backfill"), cancellationToken).ConfigureAwait(false);
        await using var transaction = await npgsql.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var resolved = await TableResolver.ResolveAllAsync(npgsql, wanted, cancellationToken).ConfigureAwait(false);
        if (!await SourceStateSql.SchemaExistsAsync(npgsql, name, cancellationToken).ConfigureAwait(false))
        {
            throw new CaptureConfigurationException($"Source {source.EventSource} is not installed in {source.Mode} mode (no schema {name}): install it first.");
        }
        var sql = string.Join(";\n", [SourceStateSql.CreateSnapshotTable(name), .. resolved.Select(t => SourceStateSql.RequestBackfill(name, t.Schema, t.Name))]);
        await using (var command = new NpgsqlCommand(sql, npgsql, transaction))
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        if (source.Mode == CaptureMode.Logical)
        {
            await WakeStreamAsync(npgsql, transaction, name, cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return resolved;
    }

    /// <summary>
    /// Writes the wake-up message into the request's own transaction. Its function is not everyone's to call
    /// (PostgreSQL grants it to superusers by default): without the right, the running capture takes the request at
    /// the end of the next transaction it streams instead, and nothing fails.
    /// </summary>
    private static async Task WakeStreamAsync(NpgsqlConnection npgsql, NpgsqlTransaction transaction, string name, CancellationToken cancellationToken)
    {
        await transaction.SaveAsync("pgsource_wake", cancellationToken).ConfigureAwait(false);
        try
        {
            await using var command = new NpgsqlCommand("SELECT pg_catalog.pg_logical_emit_message(true, @prefix, @name)", npgsql, transaction);
            command.Parameters.AddWithValue("prefix", WakeMessagePrefix);
            command.Parameters.AddWithValue("name", name);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await transaction.ReleaseAsync("pgsource_wake", cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            await transaction.RollbackAsync("pgsource_wake", cancellationToken).ConfigureAwait(false);
        }
    }
}
