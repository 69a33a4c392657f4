using System.Runtime.CompilerServices;
using Npgsql;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Capture.Durable;

/// <summary>
/// Durable mode, read-only (<see cref="CaptureOptions.Peek"/>): the journal rows there now, in journal order, with
/// the same ids and payloads <see cref="DurableCapture"/> gives them; then the sequence ends. It never deletes,
/// writes or locks anything (no single-active lock, no transaction id), so it can run beside the active listener;
/// acknowledging does nothing. Each batch is read by the same statement the capture uses (<see cref="JournalRead"/>),
/// continuing after the last id: rows of transactions that commit while it reads, with smaller ids, are left out,
/// and rows the active listener removes meanwhile may be missing. A view of the backlog, not a consumer.
/// </summary>
internal sealed class JournalPeek : IChangeCapture
{
    private readonly SourceDefinition _source;
    private readonly CaptureOptions _options;
    private readonly string _name;
    private readonly string _connectionString;
    private volatile bool _ready;
    private int _started;

    public JournalPeek(SourceDefinition source, ConnectionSettings connection, CaptureOptions? options = null)
    {
        _source = source;
        _options = options ?? CaptureOptions.Default;
        _name = source.DatabaseObjectName;
        _connectionString = connection.ToPrivateConnectionString(_options.ApplicationName + " (peek)");
    }

    public CaptureMode Mode => CaptureMode.Durable;

    public bool IsReady => _ready;

    /// <summary>Never raised: a peek has no reconnects (a lost connection ends it with the error).</summary>
    public event Action<CaptureNotice>? Notice
    {
        add { }
        remove { }
    }

    public async IAsyncEnumerable<CapturedChange> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("A capture is read once.");
        }
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        _ready = true;
        try
        {
            if (!await SourceStateSql.TableExistsAsync(connection, _name, DurableJournalSql.JournalTable, cancellationToken).ConfigureAwait(false))
            {
                throw new CaptureConfigurationException(
                    $"Source {_source.EventSource} has no Durable journal ({_name}.{DurableJournalSql.JournalTable}): install it in Durable mode first.");
            }
            var low = 0L;
            while (true)
            {
                var batch = await ReadAsync(connection, low, cancellationToken).ConfigureAwait(false);
                foreach (var row in batch.Rows)
                {
                    // No position: nothing to acknowledge.
                    yield return row.ToChange(_name);
                }
                if (!batch.Truncated || batch.Rows.Count == 0)
                {
                    yield break;
                }
                low = batch.Rows[^1].Id + 1;
            }
        }
        finally
        {
            _ready = false;
        }
    }

    private async Task<JournalBatch> ReadAsync(NpgsqlConnection connection, long low, CancellationToken token)
    {
        try
        {
            // No bound (no transaction id taken) and nothing to delete: a plain read.
            return await JournalRead.ReadAsync(connection, _name, low, [], takeBound: false, delete: [],
                _options.BatchSize, _options.MaxBatchBytes, token).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw new CaptureConfigurationException(
                $"The role cannot read source {_source.EventSource}'s journal ({ex.MessageText}). Grant it access to schema {_name}, or connect as the role that installed the source.", ex);
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.InvalidSchemaName)
        {
            throw new CaptureConfigurationException(
                $"Source {_source.EventSource}'s Durable journal is gone ({ex.MessageText}): it was uninstalled or switched to another mode.", ex);
        }
    }

    public ValueTask AcknowledgeAsync(CapturedChange change, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
