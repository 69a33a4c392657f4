using Npgsql;
using NpgsqlTypes;
using PostgresSource.Core.Capture.Snapshots;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture.Durable;

/// <summary>One journal row as the reader sees it.</summary>
internal readonly record struct JournalRow(long Id, string Txid, string Schema, string Table, string Operation, string Payload)
{
    /// <summary>The change this row holds, its id "&lt;object name&gt;-&lt;journal id&gt;"; the reader adds the position it acknowledges by.</summary>
    public CapturedChange ToChange(string objectName) => new()
    {
        Schema = Schema,
        Table = Table,
        Operation = CapturedChange.ParseAction(Operation),
        PayloadJson = Payload,
        Id = $"{objectName}-{Id}",
        TransactionId = Txid,
    };
}

/// <summary>What one read returned: the rows, the snapshot they were read in, the bound (see <see cref="JournalWindow"/>).</summary>
internal sealed record JournalBatch(PgSnapshot Snapshot, ulong? Bound, IReadOnlyList<JournalRow> Rows, bool Truncated);

/// <summary>
/// One read of a Durable journal in a single round trip. The snapshot, the bound and the rows come from one
/// statement, so they share its snapshot (a statement's snapshot is taken before it runs, so the bound, a
/// transaction id handed out while it runs, is taken after the snapshot, as <see cref="JournalWindow"/> needs).
/// Acknowledged rows are deleted by a second statement of the same batch: Npgsql sends both at once and they
/// run in one implicit transaction, so a failure leaves the journal as it was.
/// </summary>
internal static class JournalRead
{
    /// <summary>
    /// The statement's first row always carries the snapshot and bound; its journal columns are null when nothing
    /// is visible. No outer ORDER BY (it would sort whole payloads): a nested loop with the one position row outside
    /// returns the inner rows in the inner order (checked while reading: the byte budget cuts a prefix).
    /// </summary>
    private static string SelectSql(string name) => $"""
        WITH position AS MATERIALIZED (
            SELECT pg_catalog.pg_current_snapshot()::pg_catalog.text AS snapshot,
                   CASE WHEN @bound THEN pg_catalog.pg_current_xact_id()::pg_catalog.text END AS bound)
        SELECT p.snapshot, p.bound, j.id, j.txid::pg_catalog.text, j.table_schema, j.table_name, j.operation,
               j.data::pg_catalog.text, j.old::pg_catalog.text, j.payload::pg_catalog.text
        FROM position p
        LEFT JOIN LATERAL (
            SELECT id, txid, table_schema, table_name, operation, data, old, payload FROM {DurableJournalSql.JournalQualified(name)}
            WHERE id >= @low AND id <> ALL(@exclude) ORDER BY id LIMIT @limit) j ON true
        """;

    private static string DeleteSql(string name) => $"DELETE FROM {DurableJournalSql.JournalQualified(name)} WHERE id = ANY(@ids)";

    /// <param name="low">The smallest id to consider (<see cref="JournalWindow.Low"/>).</param>
    /// <param name="exclude">Ids at or above <paramref name="low"/> already emitted: not read again.</param>
    /// <param name="takeBound">Take a transaction id after the snapshot (<see cref="JournalWindow.NeedsBound"/>).</param>
    /// <param name="delete">Acknowledged ids to delete in the same round trip (may be empty).</param>
    public static async Task<JournalBatch> ReadAsync(
        NpgsqlConnection connection, string name, long low, long[] exclude, bool takeBound, long[] delete,
        int limit, long maxBytes, CancellationToken token)
    {
        await using var batch = new NpgsqlBatch(connection);
        var select = new NpgsqlBatchCommand(SelectSql(name));
        select.Parameters.AddWithValue("bound", takeBound);
        select.Parameters.AddWithValue("low", low);
        select.Parameters.AddWithValue("exclude", NpgsqlDbType.Array | NpgsqlDbType.Bigint, exclude);
        select.Parameters.AddWithValue("limit", limit);
        batch.BatchCommands.Add(select);
        if (delete.Length > 0)
        {
            // After the select: its transaction id (the bound) must be handed out after the select's snapshot.
            var remove = new NpgsqlBatchCommand(DeleteSql(name));
            remove.Parameters.AddWithValue("ids", NpgsqlDbType.Array | NpgsqlDbType.Bigint, delete);
            batch.BatchCommands.Add(remove);
        }

        var rows = new List<JournalRow>();
        PgSnapshot? snapshot = null;
        ulong? bound = null;
        var truncated = false;
        await using (var reader = await batch.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, token).ConfigureAwait(false))
        {
            long bytes = 0;
            while (await reader.ReadAsync(token).ConfigureAwait(false))
            {
                if (snapshot is null)
                {
                    snapshot = PgSnapshot.Parse(reader.GetString(0));
                    bound = await reader.IsDBNullAsync(1, token).ConfigureAwait(false)
                        ? null
                        : ulong.Parse(reader.GetString(1), System.Globalization.CultureInfo.InvariantCulture);
                }
                if (await reader.IsDBNullAsync(2, token).ConfigureAwait(false))
                {
                    continue;
                }
                if (truncated)
                {
                    // Over the byte budget: the remaining rows are skipped (read by the next poll).
                    continue;
                }
                var row = await ReadRowAsync(reader, token).ConfigureAwait(false);
                if (rows.Count > 0 && rows[^1].Id >= row.Id)
                {
                    // Never expected (see SelectSql); a cut of an unordered read could skip rows, so refuse it.
                    throw new InvalidOperationException($"The journal read returned id {row.Id} after {rows[^1].Id}.");
                }
                rows.Add(row);
                bytes += row.Payload.Length;
                truncated = bytes >= maxBytes;
            }
            truncated |= rows.Count >= limit;
            // Runs the delete (if any) to its end, so its failure surfaces here rather than being lost.
            while (await reader.NextResultAsync(token).ConfigureAwait(false))
            {
            }
        }
        return new JournalBatch(snapshot ?? throw new InvalidOperationException("The journal read returned no position row."), bound, rows, truncated);
    }

    private static async Task<JournalRow> ReadRowAsync(NpgsqlDataReader reader, CancellationToken token)
    {
        var (id, txid, schema, table, operation) = (reader.GetInt64(2), reader.GetString(3), reader.GetString(4), reader.GetString(5), reader.GetString(6));
        var data = await reader.IsDBNullAsync(7, token).ConfigureAwait(false) ? null : reader.GetString(7);
        var old = await reader.IsDBNullAsync(8, token).ConfigureAwait(false) ? null : reader.GetString(8);
        // A row an earlier version wrote carries its whole payload instead of the row images.
        var payload = data is null && !await reader.IsDBNullAsync(9, token).ConfigureAwait(false)
            ? reader.GetString(9)
            : JournalPayload.Compose(schema, table, operation, data ?? "null", old);
        return new JournalRow(id, txid, schema, table, operation, payload);
    }
}
