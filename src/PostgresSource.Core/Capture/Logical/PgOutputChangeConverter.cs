using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Npgsql;
using Npgsql.Replication.PgOutput.Messages;
using NpgsqlTypes;
using PostgresSource.Core.Capture.Reliability;
using PostgresSource.Core.Capture.Snapshots;

namespace PostgresSource.Core.Capture.Logical;

/// <summary>The position of a streamed change: the capture-wide sequence number.</summary>
internal sealed record LogicalPosition(PositionIssuer Issuer, long Sequence, ulong CommitLsn, int Index) : SequencedPosition(Issuer, Sequence);

/// <summary>
/// Turns pgoutput messages into captured changes in the seed's payload, with the transaction id, commit LSN
/// and commit time, and the deterministic id "&lt;object name&gt;-&lt;commit LSN, 16 hex digits&gt;-&lt;index in its transaction&gt;".
/// The payload is written straight from the row bytes with one reused JSON writer; what is the same for
/// every change of a transaction or a relation is made once. Used by the stream reader only (one message at a time).
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001:Types that own disposable fields should be disposable",
    Justification = "The JSON writer writes to an in-memory buffer and is reset per change; disposing it would only flush.")]
internal sealed class PgOutputChangeConverter
{
    private static readonly JsonEncodedText TableProperty = JsonEncodedText.Encode("table");
    private static readonly JsonEncodedText SchemaProperty = JsonEncodedText.Encode("schema");
    private static readonly JsonEncodedText ActionProperty = JsonEncodedText.Encode("action");
    private static readonly JsonEncodedText DataProperty = JsonEncodedText.Encode("data");
    private static readonly JsonEncodedText OldProperty = JsonEncodedText.Encode("old");
    private static readonly JsonEncodedText OldKeyProperty = JsonEncodedText.Encode("oldKey");
    private static readonly JsonEncodedText KeyOnlyProperty = JsonEncodedText.Encode("keyOnly");
    private static readonly JsonEncodedText UnchangedProperty = JsonEncodedText.Encode("unchangedToasted");
    private static readonly JsonEncodedText CascadeProperty = JsonEncodedText.Encode("cascade");
    private static readonly JsonEncodedText RestartIdentityProperty = JsonEncodedText.Encode("restartIdentity");
    private const int KeptPayloadBytes = 256 * 1024;

    private sealed class Transaction(uint xid, ulong commitLsn, DateTime commitTimestamp)
    {
        public uint Xid { get; } = xid;
        public ulong CommitLsn { get; } = commitLsn;
        public DateTimeOffset CommitTime { get; } = new(DateTime.SpecifyKind(commitTimestamp, DateTimeKind.Utc));
        public string XidText { get; } = xid.ToString(CultureInfo.InvariantCulture);
        public string LsnText { get; } = new NpgsqlLogSequenceNumber(commitLsn).ToString();
        public int Index { get; set; }
    }

    private readonly PositionIssuer _owner;
    private readonly string _name;
    private readonly LogicalAcknowledgements _acknowledgements;
    private readonly ControlConnection _control;
    private readonly RelationColumns.Cache _relations = new();
    private readonly PgOutputRow _row = new();
    private readonly PgOutputRow _old = new();
    private readonly List<CapturedChange> _changes = new(1);
    private readonly Utf8JsonWriter _writer;
    private ArrayBufferWriter<byte> _payload = new(1024);
    private Transaction? _transaction;

    /// <param name="owner">The capture, named in each change's position.</param>
    /// <param name="control">For the snapshot seam's key lookups.</param>
    public PgOutputChangeConverter(PositionIssuer owner, string name, LogicalAcknowledgements acknowledgements, ControlConnection control)
    {
        _owner = owner;
        _name = name;
        _acknowledgements = acknowledgements;
        _control = control;
        _writer = new Utf8JsonWriter(_payload);
    }

    /// <summary>Where the initial snapshot ended: changes it already showed are not emitted again.</summary>
    public SnapshotSeam Seam { get; set; } = SnapshotSeam.None;

    /// <summary>The tables' filters the publication could not apply: per-table operations and columns.</summary>
    public ChangeFilters Filters { get; set; } = ChangeFilters.None;

    /// <summary>The changes of one message (none for most kinds, several for a TRUNCATE of several tables); the list is reused by the next call.</summary>
    public async ValueTask<IReadOnlyList<CapturedChange>> ConvertAsync(PgOutputReplicationMessage message, CancellationToken token)
    {
        _changes.Clear();
        switch (message)
        {
            case BeginMessage begin:
                _transaction = new Transaction(begin.TransactionXid, (ulong)begin.TransactionFinalLsn, begin.TransactionCommitTimestamp);
                _acknowledgements.TransactionBegan();
                break;
            case CommitMessage commit:
                _transaction = null;
                _acknowledgements.TransactionCommitted((ulong)commit.TransactionEndLsn);
                break;
            case RelationMessage relation:
                // Sent before a relation's first change in a stream and again after its definition changed.
                _relations.Forget(relation.RelationId);
                break;
            case InsertMessage insert:
                await _row.ReadAsync(insert.NewRow, token).ConfigureAwait(false);
                await AddAsync(insert.Relation, ChangeOperation.Insert, _row, null, null, token).ConfigureAwait(false);
                break;
            case FullUpdateMessage update:
                await _old.ReadAsync(update.OldRow, token).ConfigureAwait(false);
                await _row.ReadAsync(update.NewRow, token).ConfigureAwait(false);
                await AddAsync(update.Relation, ChangeOperation.Update, _row, _old, null, token).ConfigureAwait(false);
                break;
            case IndexUpdateMessage update:
                await _old.ReadAsync(update.Key, token).ConfigureAwait(false);
                await _row.ReadAsync(update.NewRow, token).ConfigureAwait(false);
                await AddAsync(update.Relation, ChangeOperation.Update, _row, null, _old, token).ConfigureAwait(false);
                break;
            case UpdateMessage update:
                await _row.ReadAsync(update.NewRow, token).ConfigureAwait(false);
                await AddAsync(update.Relation, ChangeOperation.Update, _row, null, null, token).ConfigureAwait(false);
                break;
            case FullDeleteMessage delete:
                await _row.ReadAsync(delete.OldRow, token).ConfigureAwait(false);
                await AddAsync(delete.Relation, ChangeOperation.Delete, _row, null, null, token).ConfigureAwait(false);
                break;
            case KeyDeleteMessage delete:
                await _row.ReadAsync(delete.Key, token).ConfigureAwait(false);
                await AddAsync(delete.Relation, ChangeOperation.Delete, _row, null, null, token, keyOnly: true).ConfigureAwait(false);
                break;
            case TruncateMessage truncate:
                foreach (var relation in truncate.Relations)
                {
                    await AddAsync(relation, ChangeOperation.Truncate, null, null, null, token, truncate: truncate.Options).ConfigureAwait(false);
                }
                break;
        }
        return _changes;
    }

    /// <summary>A new stream: its transaction starts again, and the server sends every relation again.</summary>
    public void Reset()
    {
        _transaction = null;
        _relations.Clear();
    }

    private async ValueTask AddAsync(RelationMessage relation, ChangeOperation operation, PgOutputRow? row, PgOutputRow? old, PgOutputRow? oldKey,
        CancellationToken token, bool keyOnly = false, TruncateMessage.TruncateOptions? truncate = null)
    {
        var transaction = _transaction ?? throw new NpgsqlException("A change arrived outside a transaction.");
        var index = transaction.Index++;
        var columns = _relations.For(relation);
        // Dropped before it gets a position: nothing waits for its acknowledgement (the index stays counted, so ids stay stable).
        if (Filters.Drops(relation.RelationId, operation))
        {
            return;
        }
        if (!Seam.IsEmpty && await SuppressedAsync(transaction, columns, row, old ?? oldKey, token).ConfigureAwait(false))
        {
            return;
        }
        var payload = Filters.ShapeColumns(relation.RelationId, WritePayload(columns, operation, row, old, oldKey, keyOnly, truncate));
        _changes.Add(new CapturedChange
        {
            Schema = columns.Schema,
            Table = columns.Table,
            Operation = operation,
            PayloadJson = payload,
            Id = string.Create(CultureInfo.InvariantCulture, $"{_name}-{transaction.CommitLsn:X16}-{index}"),
            TransactionId = transaction.XidText,
            Lsn = transaction.LsnText,
            CommitTime = transaction.CommitTime,
            Position = new LogicalPosition(_owner, _acknowledgements.NextSequence(), transaction.CommitLsn, index),
        });
    }

    /// <summary>Whether the initial snapshot already showed this change.</summary>
    private async ValueTask<bool> SuppressedAsync(Transaction transaction, RelationColumns columns, PgOutputRow? row, PgOutputRow? old, CancellationToken token)
    {
        var decision = Seam.Classify(columns.Schema, columns.Table, transaction.CommitLsn, s => s.Widen(transaction.Xid));
        if (decision == SnapshotSeam.Decision.ByKey)
        {
            var rows = new[] { row?.ToJson(columns), old?.ToJson(columns) };
            return await _control.UseAsync((c, t) => Seam.SuppressByKeyAsync(c, columns.Schema, columns.Table, s => s.Widen(transaction.Xid), rows, t), token)
                .ConfigureAwait(false);
        }
        return decision == SnapshotSeam.Decision.Suppress;
    }

    private string WritePayload(RelationColumns columns, ChangeOperation operation, PgOutputRow? row, PgOutputRow? old, PgOutputRow? oldKey,
        bool keyOnly, TruncateMessage.TruncateOptions? truncate)
    {
        if (_payload.Capacity > KeptPayloadBytes)
        {
            // Grown for one large row: not kept for the small ones after it.
            _payload = new ArrayBufferWriter<byte>(1024);
        }
        _payload.ResetWrittenCount();
        _writer.Reset(_payload);
        _writer.WriteStartObject();
        _writer.WriteString(TableProperty, columns.EncodedTable);
        _writer.WriteString(SchemaProperty, columns.EncodedSchema);
        _writer.WriteString(ActionProperty, CapturedChange.ActionName(operation));
        _writer.WritePropertyName(DataProperty);
        if (row is null)
        {
            _writer.WriteNullValue();
        }
        else
        {
            row.WriteObject(_writer, columns, old);
        }
        if (old is not null)
        {
            _writer.WritePropertyName(OldProperty);
            old.WriteObject(_writer, columns, null);
        }
        if (oldKey is not null)
        {
            _writer.WritePropertyName(OldKeyProperty);
            oldKey.WriteObject(_writer, columns, null);
        }
        if (keyOnly)
        {
            _writer.WriteBoolean(KeyOnlyProperty, true);
        }
        row?.WriteUnchangedNames(_writer, UnchangedProperty, columns, old);
        if (truncate is { } options)
        {
            _writer.WriteBoolean(CascadeProperty, options.HasFlag(TruncateMessage.TruncateOptions.Cascade));
            _writer.WriteBoolean(RestartIdentityProperty, options.HasFlag(TruncateMessage.TruncateOptions.RestartIdentity));
        }
        _writer.WriteEndObject();
        _writer.Flush();
        return Encoding.UTF8.GetString(_payload.WrittenSpan);
    }
}
