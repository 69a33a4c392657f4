using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using PostgresSource.Core.Database;
using PostgresSource.Core.Capture.Durable;

namespace PostgresSource.Core.Capture.Snapshots;

/// <summary>Where a snapshot's boundary sits in the stream: the highest journal id it saw, or the WAL insert position after it.</summary>
internal enum SnapshotHorizon
{
    JournalId,
    WalLsn,
}

/// <summary>The position of a Read change: the capture-wide sequence number, for acknowledgement.</summary>
internal sealed record ReadPosition(PositionIssuer Issuer, long Sequence) : SequencedPosition(Issuer, Sequence);

/// <summary>
/// The initial snapshot of the Durable and Logical captures. Each attempt ("segment") reads, in one
/// REPEATABLE READ transaction, every table not yet done, in primary-key order, continuing after the last
/// key an earlier attempt emitted. Progress is written to the source's state table only for Reads the
/// consumer acknowledged, so an interrupted snapshot resumes without losing a row, and without repeating
/// one that was acknowledged. Each segment's snapshot and stream horizon are recorded too: the
/// <see cref="SnapshotSeam"/> built from them tells the stream which changes the Reads already contain.
/// </summary>
internal sealed class SnapshotRunner
{
    private sealed class Part
    {
        public string? StartKey;
        public long StartRows;
        // Acknowledged (and, once flushed, persisted) progress.
        public string? AckedKey;
        public long AckedRows;
        public bool Done;
        // This instance's reading.
        public bool Live;
        public string? YieldedKey;
        public long YieldedRows;
        public bool Finished;
        public long FinishedAtSequence;
        public readonly Queue<(long Sequence, string? Key, long Rows)> Pending = new();
        public bool Dirty;
    }

    private sealed class SegmentState(int number, PgSnapshot snapshot, string horizonText, ulong horizon)
    {
        public int Number { get; } = number;
        public PgSnapshot Snapshot { get; } = snapshot;
        public string HorizonText { get; } = horizonText;
        public ulong Horizon { get; } = horizon;
        public Dictionary<(string, string), Part> Parts { get; } = new();
    }

    private readonly object _lock = new();
    private readonly string _name;
    private readonly SnapshotHorizon _horizonKind;
    private readonly CaptureOptions _options;
    private readonly List<SnapshotTable> _allTables = [];
    private readonly List<SnapshotTable> _requested = [];
    private readonly List<SegmentState> _segments = [];
    private int _nextSegment = 1;
    // The backfill requests already taken, by the time they were made: a request made again has a new time.
    private readonly Dictionary<(string, string), DateTime> _requestsTaken = [];

    public SnapshotRunner(string objectName, SnapshotHorizon horizonKind, CaptureOptions options)
    {
        _name = objectName;
        _horizonKind = horizonKind;
        _options = options;
    }

    /// <summary>Some table still has rows to emit (in this instance).</summary>
    public bool Needed
    {
        get
        {
            lock (_lock)
            {
                return _requested.Any(t => !IsFinished(t));
            }
        }
    }

    /// <summary>Every requested table's last Read has been acknowledged (or there was no snapshot to take).</summary>
    public bool Completed
    {
        get
        {
            lock (_lock)
            {
                return _requested.All(t => _segments.Any(s => s.Parts.TryGetValue(t.Key, out var p) && p.Done));
            }
        }
    }

    public bool HasDirtyProgress
    {
        get
        {
            lock (_lock)
            {
                return _segments.Any(s => s.Parts.Values.Any(p => p.Dirty));
            }
        }
    }

    /// <summary>Reads the source's snapshot state and works out what remains. Creates the state table when a snapshot is asked for and it is missing.</summary>
    public async Task PrepareAsync(NpgsqlConnection connection, IReadOnlyList<ResolvedTable> tables, CancellationToken cancellationToken)
    {
        var infos = new List<SnapshotTable>();
        foreach (var table in tables)
        {
            infos.Add(await SnapshotTable.LoadAsync(connection, table, cancellationToken).ConfigureAwait(false));
        }

        var exists = await SourceStateSql.TableExistsAsync(connection, _name, SourceStateSql.SnapshotTable, cancellationToken).ConfigureAwait(false);
        if (!exists && _options.Snapshot)
        {
            await using var create = new NpgsqlCommand(SourceStateSql.CreateSchema(_name) + ";\n" + SourceStateSql.CreateSnapshotTable(_name), connection);
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            exists = true;
        }

        var rows = new List<(string Schema, string Table, int Segment, string? Snapshot, string? Horizon, string? LastKey, long Rows, bool Done)>();
        if (exists)
        {
            await using var command = new NpgsqlCommand(
                $"SELECT table_schema, table_name, segment, snapshot::text, horizon, last_key::text, rows_read, done FROM {SourceStateSql.SnapshotQualified(_name)} ORDER BY segment",
                connection);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                rows.Add((reader.GetString(0), reader.GetString(1), reader.GetInt32(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4),
                    reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetInt64(6), reader.GetBoolean(7)));
            }
        }

        lock (_lock)
        {
            _allTables.Clear();
            _allTables.AddRange(infos);
            _requested.Clear();
            _segments.Clear();
            var requestedKeys = rows.Select(r => (r.Schema, r.Table)).ToHashSet();
            _requested.AddRange(_options.Snapshot ? infos : infos.Where(t => requestedKeys.Contains(t.Key)));
            foreach (var group in rows.Where(r => r.Snapshot is not null && r.Segment > 0).GroupBy(r => r.Segment).OrderBy(g => g.Key))
            {
                var first = group.First();
                var segment = new SegmentState(group.Key, PgSnapshot.Parse(first.Snapshot!), first.Horizon ?? "0", ParseHorizon(first.Horizon));
                foreach (var row in group)
                {
                    var info = infos.FirstOrDefault(t => t.Key == (row.Schema, row.Table));
                    // A table without a key is re-read whole after an interruption: only a finished read of it counts.
                    if (info is { Resumable: false } && !row.Done)
                    {
                        continue;
                    }
                    segment.Parts[(row.Schema, row.Table)] = new Part { AckedKey = row.LastKey, AckedRows = row.Rows, Done = row.Done };
                }
                _segments.Add(segment);
            }
            _nextSegment = rows.Count == 0 ? 1 : Math.Max(1, rows.Max(r => r.Segment) + 1);
        }
        // Requests there at start are part of what remains (above); only later ones are new.
        var requests = exists ? await ReadRequestsAsync(connection, cancellationToken).ConfigureAwait(false) : [];
        lock (_lock)
        {
            _requestsTaken.Clear();
            foreach (var (key, made) in requests)
            {
                _requestsTaken[key] = made;
            }
        }
    }

    /// <summary>
    /// Takes the backfill requests made since the last look (<see cref="Backfill"/>): each table asked for is read
    /// again from its first row by the next segment, its earlier reads forgotten. True when there is something to read.
    /// </summary>
    public async Task<bool> TakeNewRequestsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        if (!await SourceStateSql.TableExistsAsync(connection, _name, SourceStateSql.SnapshotTable, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }
        var requests = await ReadRequestsAsync(connection, cancellationToken).ConfigureAwait(false);
        var taken = false;
        lock (_lock)
        {
            foreach (var (key, made) in requests)
            {
                if (_requestsTaken.TryGetValue(key, out var before) && before == made)
                {
                    continue;
                }
                _requestsTaken[key] = made;
                if (_allTables.FirstOrDefault(t => t.Key == key) is not { } table)
                {
                    continue;
                }
                foreach (var segment in _segments)
                {
                    segment.Parts.Remove(key);
                }
                if (!_requested.Contains(table))
                {
                    _requested.Add(table);
                }
                taken = true;
            }
        }
        return taken;
    }

    private async Task<List<((string, string) Key, DateTime Made)>> ReadRequestsAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            $"SELECT table_schema, table_name, updated FROM {SourceStateSql.SnapshotQualified(_name)} WHERE segment = 0", connection);
        var requests = new List<((string, string), DateTime)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            requests.Add(((reader.GetString(0), reader.GetString(1)), reader.GetDateTime(2)));
        }
        return requests;
    }

    private ulong ParseHorizon(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return 0;
        }
        return _horizonKind == SnapshotHorizon.WalLsn
            ? (ulong)NpgsqlLogSequenceNumber.Parse(text)
            : ulong.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
    }

    private bool IsFinished(SnapshotTable table) =>
        _segments.Any(s => s.Parts.TryGetValue(table.Key, out var p) && (p.Done || p.Finished));

    /// <summary>Where the table continues: the last key emitted (by this instance) or acknowledged (before), and the rows so far.</summary>
    private (string? Key, long Rows) ResumePoint(SnapshotTable table)
    {
        if (!table.Resumable)
        {
            return (null, 0);
        }
        foreach (var segment in Enumerable.Reverse(_segments))
        {
            if (segment.Parts.TryGetValue(table.Key, out var part))
            {
                var key = part.Live ? part.YieldedKey ?? part.StartKey : part.AckedKey;
                var rows = part.Live ? part.YieldedRows : part.AckedRows;
                if (key is not null)
                {
                    return (key, rows);
                }
            }
        }
        return (null, 0);
    }

    /// <summary>
    /// One snapshot attempt on a connection of its own (kept in a REPEATABLE READ transaction throughout).
    /// Throws when the connection fails; the caller retries with a new attempt, which continues where this one stopped.
    /// </summary>
    public async IAsyncEnumerable<CapturedChange> ReadSegmentAsync(
        NpgsqlConnection connection, PositionIssuer owner, Func<long> nextSequence, Func<long> lastSequence,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);
        SegmentState segment;
        var horizonSql = _horizonKind == SnapshotHorizon.WalLsn
            ? "pg_catalog.pg_current_wal_insert_lsn()::text"
            : $"(SELECT coalesce(max(id), 0) FROM {DurableJournalSql.JournalQualified(_name)})::text";
        // The first statement fixes the transaction's snapshot; the horizon is read under it (journal) or after it (WAL).
        await using (var command = new NpgsqlCommand($"SELECT pg_catalog.pg_current_snapshot()::text, {horizonSql}", connection, transaction))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var horizon = reader.GetString(1);
            lock (_lock)
            {
                segment = new SegmentState(_nextSegment++, PgSnapshot.Parse(reader.GetString(0)), horizon, ParseHorizon(horizon));
                _segments.Add(segment);
            }
        }

        // After the snapshot is fixed: no policy and no look-alike on a search path runs with the listener's rights.
        await using (var command = new NpgsqlCommand(SnapshotTable.NoRowSecuritySql + "; SET LOCAL search_path = pg_catalog, pg_temp", connection, transaction))
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        List<SnapshotTable> todo;
        lock (_lock)
        {
            todo = _requested.Where(t => !IsFinished(t)).ToList();
        }
        foreach (var table in todo)
        {
            Part part;
            bool resumed;
            lock (_lock)
            {
                var (key, rows) = ResumePoint(table);
                resumed = key is not null;
                part = new Part { Live = true, StartKey = key, StartRows = rows, YieldedRows = rows };
                segment.Parts[table.Key] = part;
            }
            var number = _requested.IndexOf(table) + 1;
            Report(table, number, part.YieldedRows, done: false, resumed, segment.Number);

            await using (var command = new NpgsqlCommand(table.SelectSql(part.StartKey is not null), connection, transaction))
            {
                if (part.StartKey is not null)
                {
                    command.Parameters.Add(new NpgsqlParameter { Value = part.StartKey, NpgsqlDbType = NpgsqlDbType.Text });
                }
                await using var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, cancellationToken).ConfigureAwait(false);
                var sinceReport = 0;
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    var row = reader.GetString(0);
                    var key = reader.IsDBNull(1) ? null : reader.GetString(1);
                    CapturedChange change;
                    lock (_lock)
                    {
                        var sequence = nextSequence();
                        part.YieldedRows++;
                        part.YieldedKey = key;
                        part.Pending.Enqueue((sequence, key, part.YieldedRows));
                        change = MakeRead(table, segment.Number, row, key, new ReadPosition(owner, sequence));
                    }
                    yield return change;
                    if (++sinceReport >= _options.SnapshotChunkSize)
                    {
                        sinceReport = 0;
                        Report(table, number, part.YieldedRows, done: false, resumed, segment.Number);
                    }
                }
            }
            lock (_lock)
            {
                part.Finished = true;
                part.FinishedAtSequence = lastSequence();
            }
            Report(table, number, part.YieldedRows, done: true, resumed, segment.Number);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private void Report(SnapshotTable table, int number, long rows, bool done, bool resumed, int segment) =>
        _options.SnapshotProgress?.Report(new SnapshotProgress(table.Schema, table.Name, number, _requested.Count, rows, table.EstimatedRows, done, resumed, segment));

    private CapturedChange MakeRead(SnapshotTable table, int segment, string row, string? key, ReadPosition position)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(row.Length + 128);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("table", table.Name);
            writer.WriteString("schema", table.Schema);
            writer.WriteString("action", CapturedChange.ActionName(ChangeOperation.Read));
            writer.WritePropertyName("data");
            writer.WriteRawValue(row, skipInputValidation: true);
            writer.WriteEndObject();
        }
        var identity = SHA256.HashData(Encoding.UTF8.GetBytes($"{table.Schema}\u0000{table.Name}\u0000{key ?? row}"));
        return new CapturedChange
        {
            Schema = table.Schema,
            Table = table.Name,
            Operation = ChangeOperation.Read,
            PayloadJson = table.Filter is { ShapesColumns: true } filter
                ? ChangeFilters.Shape(filter, Encoding.UTF8.GetString(buffer.WrittenSpan))
                : Encoding.UTF8.GetString(buffer.WrittenSpan),
            // The segment is part of the id: a row read again by a later attempt may carry newer data and must not be dropped as a duplicate.
            Id = $"{_name}-read-{segment}-{Convert.ToHexString(identity, 0, 16).ToLowerInvariant()}",
            Position = position,
        };
    }

    /// <summary>The consumer acknowledged every change up to this sequence number: move the acknowledged progress.</summary>
    public bool Acknowledge(long sequence)
    {
        var changed = false;
        lock (_lock)
        {
            foreach (var segment in _segments)
            {
                foreach (var part in segment.Parts.Values.Where(p => p.Live))
                {
                    while (part.Pending.TryPeek(out var head) && head.Sequence <= sequence)
                    {
                        part.Pending.Dequeue();
                        part.AckedKey = head.Key;
                        part.AckedRows = head.Rows;
                        part.Dirty = changed = true;
                    }
                    if (part.Finished && !part.Done && part.FinishedAtSequence <= sequence && part.Pending.Count == 0)
                    {
                        part.Done = true;
                        part.Dirty = changed = true;
                    }
                }
            }
        }
        return changed;
    }

    /// <summary>Writes acknowledged progress to the state table (an upsert per changed table and segment).</summary>
    public async Task FlushAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        List<(string Schema, string Table, int Segment, string Snapshot, string Horizon, string? Key, long Rows, bool Done, Part Part)> work;
        lock (_lock)
        {
            work = _segments.SelectMany(s => s.Parts.Where(p => p.Value.Dirty).Select(p =>
                    (p.Key.Item1, p.Key.Item2, s.Number, s.Snapshot.Text, s.HorizonText,
                     // A part acknowledged without new rows (a table with none left) keeps the key it started from.
                     p.Value.AckedKey ?? p.Value.StartKey, Math.Max(p.Value.AckedRows, p.Value.StartRows), p.Value.Done, p.Value)))
                .ToList();
            foreach (var item in work)
            {
                item.Part.Dirty = false;
            }
        }
        if (work.Count == 0)
        {
            return;
        }
        try
        {
            var sql = $"""
                INSERT INTO {SourceStateSql.SnapshotQualified(_name)} (table_schema, table_name, segment, snapshot, horizon, last_key, rows_read, done, updated)
                VALUES (@schema, @table, @segment, @snapshot::pg_catalog.pg_snapshot, @horizon, @key::json, @rows, @done, pg_catalog.now())
                ON CONFLICT (table_schema, table_name, segment) DO UPDATE
                SET last_key = excluded.last_key, rows_read = excluded.rows_read, done = excluded.done, updated = excluded.updated
                """;
            var batch = new NpgsqlBatch(connection);
            foreach (var item in work)
            {
                var command = new NpgsqlBatchCommand(sql);
                command.Parameters.AddWithValue("schema", item.Schema);
                command.Parameters.AddWithValue("table", item.Table);
                command.Parameters.AddWithValue("segment", item.Segment);
                command.Parameters.AddWithValue("snapshot", item.Snapshot);
                command.Parameters.AddWithValue("horizon", item.Horizon);
                command.Parameters.Add(new NpgsqlParameter("key", NpgsqlDbType.Text) { Value = (object?)item.Key ?? DBNull.Value });
                command.Parameters.AddWithValue("rows", item.Rows);
                command.Parameters.AddWithValue("done", item.Done);
                batch.BatchCommands.Add(command);
            }
            await using (batch)
            {
                await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            lock (_lock)
            {
                foreach (var item in work)
                {
                    item.Part.Dirty = true;
                }
            }
            throw;
        }
    }

    /// <summary>The seam for the stream, from every segment known: recorded ones with their acknowledged reach, this instance's with what it emitted.</summary>
    public SnapshotSeam BuildSeam()
    {
        var seam = new SnapshotSeam();
        lock (_lock)
        {
            foreach (var table in _allTables)
            {
                var segments = new List<SnapshotSeam.Segment>();
                foreach (var segment in _segments)
                {
                    if (!segment.Parts.TryGetValue(table.Key, out var part))
                    {
                        continue;
                    }
                    var unbounded = part.Live ? part.Finished : part.Done;
                    var upper = part.Live ? part.YieldedKey : part.AckedKey;
                    if (!table.Resumable && !unbounded)
                    {
                        continue;
                    }
                    if (part.Live && part.YieldedKey is null && !unbounded)
                    {
                        continue;
                    }
                    segments.Add(new SnapshotSeam.Segment(segment.Number, segment.Snapshot, segment.Horizon, unbounded ? null : upper, unbounded));
                }
                seam.Add(table, segments);
            }
        }
        return seam;
    }
}
