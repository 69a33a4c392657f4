using System.Runtime.CompilerServices;
using Npgsql;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Capture.Reliability;

/// <summary>
/// One active listener per source, whatever the mode: wraps the capture so that of all the listeners (or
/// adapter replicas) started for a source only the one holding the source's PostgreSQL advisory lock
/// reads; the others wait as standbys and try again every <see cref="CaptureOptions.StandbyPollInterval"/>.
/// The lock lives on a session of its own, so it goes the moment the active listener's process dies or
/// its session ends (with TCP keepalives on both sides for a peer that vanished), and a standby takes over
/// within about a second. If the active one loses its lock session it stops reading at once and becomes a
/// standby itself. Needs no infrastructure besides the database.
/// <para>
/// With <see cref="CaptureOptions.FailWhenBusy"/> a listener that finds the lock held does not wait:
/// it throws <see cref="SourceBusyException"/> naming the holder (an interactive caller wants to know at once).
/// When the reading ends because the caller stopped it (cancellation, or the enumerator disposed early), the
/// lock and the capture are kept until <see cref="DisposeAsync"/>: acknowledgements of changes already handed
/// out still reach the capture, which writes them when it is disposed, before the lock is released.
/// </para>
/// </summary>
internal sealed class SingleActiveCapture : IChangeCapture
{
    /// <summary>The advisory lock's first key ("PGSR"); the second is hashtext of the source's object name.</summary>
    public const int LockClass = 0x50475352;

    private readonly SourceDefinition _source;
    private readonly Func<IChangeCapture> _createActive;
    private readonly CaptureOptions _options;
    private readonly string _lockConnectionString;
    private readonly CaptureLifetime _lifetime = new();
    private NpgsqlConnection? _lockConnection;
    private IChangeCapture? _active;
    private volatile bool _isActive;
    private bool _connectedOnce;
    private bool _wasActive;

    public SingleActiveCapture(SourceDefinition source, ConnectionSettings connection, Func<IChangeCapture> createActive, CaptureOptions? options = null)
    {
        _source = source;
        _createActive = createActive;
        _options = options ?? CaptureOptions.Default;
        var builder = connection.ToBuilder();
        builder.Pooling = false;
        builder.ApplicationName = string.IsNullOrEmpty(builder.ApplicationName) ? _options.ApplicationName + " (active lock)" : builder.ApplicationName + " (active lock)";
        // Notice a vanished peer in seconds, on both ends; and never let an idle-session timeout end the lock.
        builder.TcpKeepAlive = true;
        builder.TcpKeepAliveTime = 5;
        builder.TcpKeepAliveInterval = 1;
        builder.Options = ((builder.Options ?? string.Empty) +
            " -c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3 -c idle_session_timeout=0").Trim();
        _lockConnectionString = builder.ConnectionString;
    }

    public CaptureMode Mode => _source.Mode;

    /// <summary>This listener holds the source's lock and reads; false while it waits as a standby.</summary>
    public bool IsActive => _isActive;

    /// <summary>Raised with true when this listener becomes the active one, with false when it stops being it.</summary>
    public event Action<bool>? ActiveChanged;

    public event Action<CaptureNotice>? Notice;

    /// <summary>Ready = active and its capture connected. A standby is not ready: it delivers nothing.</summary>
    public bool IsReady => _isActive && _active?.IsReady == true;

    /// <summary>The server process holding (or trying for) the lock, for diagnostics and fault tests.</summary>
    public int? LockProcessId => _lockConnection is { State: System.Data.ConnectionState.Open } c ? c.ProcessID : null;

    /// <summary>The wrapped capture while active (and after the caller stopped reading, until disposed).</summary>
    public IChangeCapture? ActiveCapture => _active;

    public async IAsyncEnumerable<CapturedChange> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var linked = _lifetime.BeginRead(cancellationToken);
        var token = linked.Token;
        while (true)
        {
            var connection = await AcquireAsync(token).ConfigureAwait(false);
            using var lost = new CancellationTokenSource();
            using var activeScope = CancellationTokenSource.CreateLinkedTokenSource(token, lost.Token);
            var watch = Task.Run(() => WatchAsync(connection, lost), CancellationToken.None);
            var capture = _createActive();
            capture.Notice += Forward;
            _active = capture;
            _wasActive = true;
            SetActive(true);
            Raise($"This listener is now the active one for source {_source.EventSource} ({_source.Mode} mode).", false);

            Exception? failure = null;
            // False while the reading is at a yield: a finally run from there is the caller disposing the enumerator.
            var endedHere = false;
            var enumerator = capture.ReadAllAsync(activeScope.Token).GetAsyncEnumerator(activeScope.Token);
            try
            {
                while (true)
                {
                    var (has, error) = await MoveAsync(enumerator).ConfigureAwait(false);
                    if (error is not null)
                    {
                        endedHere = true;
                        if (lost.IsCancellationRequested && !token.IsCancellationRequested)
                        {
                            break;
                        }
                        failure = error;
                        break;
                    }
                    if (!has)
                    {
                        endedHere = true;
                        break;
                    }
                    yield return enumerator.Current;
                    if (lost.IsCancellationRequested)
                    {
                        endedHere = true;
                        break;
                    }
                }
            }
            finally
            {
                // The caller stopped reading (cancelled, or disposed the enumerator) while the lock was still held:
                // keep the capture and the lock, so late acknowledgements still count; DisposeAsync writes them, then unlocks.
                var stoppedByCaller = !lost.IsCancellationRequested && (!endedHere || token.IsCancellationRequested);
                SetActive(false);
                lost.Cancel();
                await IgnoreAsync(async () => await enumerator.DisposeAsync().ConfigureAwait(false)).ConfigureAwait(false);
                await IgnoreAsync(() => watch).ConfigureAwait(false);
                if (!stoppedByCaller)
                {
                    _active = null;
                    await IgnoreAsync(async () => await capture.DisposeAsync().ConfigureAwait(false)).ConfigureAwait(false);
                    capture.Notice -= Forward;
                    await CloseLockAsync().ConfigureAwait(false);
                }
            }
            if (failure is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
            }
            token.ThrowIfCancellationRequested();
            Raise($"This listener lost the active role for source {_source.EventSource} (its lock session ended); standing by.", false);
            // Give the other standbys the first chance: the session may have been ended on purpose, to move the role.
            await Task.Delay(_options.StandbyPollInterval, token).ConfigureAwait(false);
        }
    }

    public ValueTask AcknowledgeAsync(CapturedChange change, CancellationToken cancellationToken) =>
        // A change read before a handover belongs to a capture that is gone: its own position is not this one's, and it is ignored.
        _active is { } active ? active.AcknowledgeAsync(change, cancellationToken) : ValueTask.CompletedTask;

    private async Task<NpgsqlConnection> AcquireAsync(CancellationToken token)
    {
        var announced = false;
        // With FailWhenBusy, a holder that is gone by the time it is looked up gets a few more tries before the error.
        var lookups = 0;
        while (true)
        {
            try
            {
                if (_lockConnection is null)
                {
                    _lockConnection = await DatabaseConnection.OpenAsync(_lockConnectionString, token).ConfigureAwait(false);
                    _connectedOnce = true;
                }
                await using var command = new NpgsqlCommand("SELECT pg_catalog.pg_try_advisory_lock(@class, pg_catalog.hashtext(@name))", _lockConnection);
                command.Parameters.AddWithValue("class", LockClass);
                command.Parameters.AddWithValue("name", _source.DatabaseObjectName);
                if ((bool)(await command.ExecuteScalarAsync(token).ConfigureAwait(false))!)
                {
                    return _lockConnection;
                }
                if (_options.FailWhenBusy || !announced)
                {
                    var holder = await FindHolderAsync(_lockConnection, token).ConfigureAwait(false);
                    if (_options.FailWhenBusy)
                    {
                        if (holder is null && ++lookups < 3)
                        {
                            // Released between the try and the look-up (or not readable): try again at once.
                            continue;
                        }
                        await CloseLockAsync().ConfigureAwait(false);
                        throw new SourceBusyException(
                            $"Another listener is active for source {_source.EventSource} ({_source.Mode} mode): " +
                            (holder is null ? "it holds the source's lock" : holder.Describe()) +
                            ". Only one listener consumes a source at a time; " +
                            (_wasActive ? "this one lost the role and stopped." : "this one read nothing."),
                            _source.EventSource, holder);
                    }
                    announced = true;
                    Raise($"Another listener is active for source {_source.EventSource}" + (holder is null ? string.Empty : $" ({holder.Describe()})") +
                          "; this one stands by and takes over if it stops.", false);
                }
            }
            catch (Exception ex) when (TransientErrors.IsTransient(ex))
            {
                await CloseLockAsync().ConfigureAwait(false);
                if (!_connectedOnce && !_options.RetryInitialConnection)
                {
                    // A wrong host or a server that is down is an error at once for a caller that asked so (the cmdlet).
                    throw;
                }
                Raise($"Cannot connect to the database ({ex.Message}); retrying in {_options.StandbyPollInterval.TotalSeconds:0.#} s.", false);
            }
            await Task.Delay(_options.StandbyPollInterval, token).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The session holding the source's lock: pg_locks (advisory, classid = <see cref="LockClass"/>, objid = the
    /// object name's hashtext as an unsigned oid, objsubid 2 for the two-key form) joined with pg_stat_activity.
    /// </summary>
    private async Task<ActiveListenerInfo?> FindHolderAsync(NpgsqlConnection connection, CancellationToken token)
    {
        try
        {
            return await QueryHolderAsync(connection, token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && !TransientErrors.IsTransient(ex))
        {
            // Only a description: never a reason to stop standing by (or to hide that the source is busy).
            return null;
        }
    }

    private async Task<ActiveListenerInfo?> QueryHolderAsync(NpgsqlConnection connection, CancellationToken token)
    {
        const string sql = """
            SELECT l.pid, a.application_name, pg_catalog.host(a.client_addr), a.client_hostname, a.backend_start
            FROM pg_catalog.pg_locks l
            LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
              AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
              AND l.classid = (@class::pg_catalog.int8 & 4294967295)::pg_catalog.oid
              AND l.objid = (pg_catalog.hashtext(@name)::pg_catalog.int8 & 4294967295)::pg_catalog.oid
            LIMIT 1
            """;
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("class", LockClass);
        command.Parameters.AddWithValue("name", _source.DatabaseObjectName);
        await using var reader = await command.ExecuteReaderAsync(token).ConfigureAwait(false);
        if (!await reader.ReadAsync(token).ConfigureAwait(false))
        {
            return null;
        }
        string? Text(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
        return new ActiveListenerInfo(
            reader.GetInt32(0),
            Text(1),
            Text(2),
            Text(3),
            reader.IsDBNull(4) ? null : reader.GetFieldValue<DateTimeOffset>(4));
    }

    /// <summary>Waits on the idle lock session: if it ends (the server ended it, the network went), the lock is gone.</summary>
    private static async Task WatchAsync(NpgsqlConnection connection, CancellationTokenSource lost)
    {
        try
        {
            while (true)
            {
                await connection.WaitAsync(lost.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (lost.IsCancellationRequested)
        {
        }
        catch (Exception)
        {
            try
            {
                lost.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private static async Task<(bool Has, Exception? Error)> MoveAsync(IAsyncEnumerator<CapturedChange> enumerator)
    {
        try
        {
            return (await enumerator.MoveNextAsync().ConfigureAwait(false), null);
        }
        catch (Exception ex)
        {
            return (false, ex);
        }
    }

    private async Task CloseLockAsync()
    {
        var connection = _lockConnection;
        _lockConnection = null;
        if (connection is not null)
        {
            // Closing the session releases the lock.
            await IgnoreAsync(async () => await connection.DisposeAsync().ConfigureAwait(false)).ConfigureAwait(false);
        }
    }

    private void SetActive(bool active)
    {
        if (_isActive == active)
        {
            return;
        }
        _isActive = active;
        try
        {
            ActiveChanged?.Invoke(active);
        }
        catch (Exception)
        {
        }
    }

    private void Forward(CaptureNotice notice) => Raise(notice.Message, notice.PossibleLoss);

    private void Raise(string message, bool possibleLoss)
    {
        Notice.RaiseSafely(message, possibleLoss);
    }

    private static async Task IgnoreAsync(Func<Task> action)
    {
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (Exception)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_lifetime.BeginDispose())
        {
            return;
        }
        if (_active is { } active)
        {
            // First the capture (it writes what was acknowledged), then the lock: no standby reads those changes again.
            _active = null;
            await IgnoreAsync(async () => await active.DisposeAsync().ConfigureAwait(false)).ConfigureAwait(false);
            active.Notice -= Forward;
        }
        await CloseLockAsync().ConfigureAwait(false);
        _lifetime.Dispose();
    }
}
