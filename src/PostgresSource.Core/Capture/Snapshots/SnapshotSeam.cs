using Npgsql;

namespace PostgresSource.Core.Capture.Snapshots;

/// <summary>
/// Decides, for a streamed change, whether a snapshot already showed it. The rule: a change whose
/// transaction is visible in the snapshot that read its row is in that Read already, so it is not
/// emitted again; every other change is. With one uninterrupted snapshot this is just "visible in the
/// snapshot": nothing missed, nothing doubled at the seam. A resumed snapshot reads the rest of a table
/// with a later snapshot, so the segment (and snapshot) that read a row is found from its key.
/// </summary>
internal sealed class SnapshotSeam
{
    internal sealed record Segment(int Number, PgSnapshot Snapshot, ulong Horizon, string? Upper, bool Unbounded)
    {
        public bool Empty => Upper is null && !Unbounded;
    }

    private sealed record TableSeam(SnapshotTable Table, IReadOnlyList<Segment> Segments, ulong MaxHorizon);

    private readonly Dictionary<(string, string), TableSeam> _tables = new();

    public static SnapshotSeam None { get; } = new();

    public bool IsEmpty => _tables.Count == 0;

    internal void Add(SnapshotTable table, IReadOnlyList<Segment> segments)
    {
        var useful = segments.Where(s => !s.Empty).OrderBy(s => s.Number).ToList();
        if (useful.Count > 0)
        {
            _tables[table.Key] = new TableSeam(table, useful, useful.Max(s => s.Horizon));
        }
    }

    public enum Decision
    {
        Emit,
        Suppress,
        /// <summary>Committed between two snapshot segments: which segment read the row decides.</summary>
        ByKey,
    }

    /// <param name="position">Durable: the journal id; Logical: the commit LSN. Beyond every snapshot's horizon, nothing is suppressed.</param>
    /// <param name="xidIn">The change's transaction id as xid8, given a snapshot to widen a 32-bit id against.</param>
    public Decision Classify(string schema, string table, ulong position, Func<PgSnapshot, ulong> xidIn)
    {
        if (!_tables.TryGetValue((schema, table), out var seam) || position > seam.MaxHorizon)
        {
            return Decision.Emit;
        }
        var first = seam.Segments[0].Snapshot;
        if (first.IsVisible(xidIn(first)))
        {
            return Decision.Suppress;
        }
        var last = seam.Segments[^1].Snapshot;
        return last.IsVisible(xidIn(last)) ? Decision.ByKey : Decision.Emit;
    }

    /// <summary>
    /// For <see cref="Decision.ByKey"/>: suppress only when every row the change touches (new and old key)
    /// was read by a segment whose snapshot already saw the change. Any doubt emits (at least once).
    /// </summary>
    public async Task<bool> SuppressByKeyAsync(NpgsqlConnection connection, string schema, string table,
        Func<PgSnapshot, ulong> xidIn, IEnumerable<string?> rows, CancellationToken cancellationToken)
    {
        if (!_tables.TryGetValue((schema, table), out var seam) || !seam.Table.Resumable)
        {
            return false;
        }
        var bounds = seam.Segments.Where(s => !s.Unbounded).Select(s => s.Upper!).ToArray();
        var any = false;
        foreach (var row in rows)
        {
            if (row is null)
            {
                continue;
            }
            any = true;
            await using var command = new NpgsqlCommand(seam.Table.SegmentOfKeySql(), connection);
            command.Parameters.Add(new NpgsqlParameter { Value = row, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter { Value = bounds, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text });
            var index = (int)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            if (index >= seam.Segments.Count)
            {
                return false;
            }
            var snapshot = seam.Segments[index].Snapshot;
            if (!snapshot.IsVisible(xidIn(snapshot)))
            {
                return false;
            }
        }
        return any;
    }
}
