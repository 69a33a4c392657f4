using System.Runtime.CompilerServices;
using Npgsql;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Capture.Reliability;

/// <summary>
/// One active listener per source, with no extra infrastructure: a PostgreSQL session-level advisory lock,
/// held on a dedicated connection, decides who captures. A second listener (another adapter replica)
/// waits as a standby, trying the lock every <see cref="PollInterval"/>; when the active one dies its
/// session ends, the server releases the lock, and the standby takes over within about one interval.
/// If the active listener loses its lock session, it stops capturing at once (a standby may be taking
/// over) and the read fails, so the process restarts as a standby instead of capturing twice.
/// </summary>
public sealed class SingleActiveCapture : IChangeCapture
{
    private readonly IChangeCapture _inner;
    private readonly string _connectionString;
    private readonly string _lockName;
    private NpgsqlConnection? _lockConnection;
    private volatile bool _active;

    public SingleActiveCapture(IChangeCapture inner, SourceDefinition source, ConnectionSettings connection, TimeSpan? pollInterval = null)
    {
        _inner = inner;
        _lockName = source.DatabaseObjectName;
        var builder = connection.ToBuilder();
        builder.Pooling = false;
        builder.ApplicationName = "PostgresSource leader lock";
        // Short keepalives: a dead peer's lock must not outlive it by much.
        builder.KeepAlive = 5;
        _connectionString = builder.ConnectionString;
        PollInterval = pollInterval ?? TimeSpan.FromSeconds(1);
        _inner.Notice += notice => Notice?.Invoke(notice);
    }

    public TimeSpan PollInterval { get; }

    public CaptureMode Mode => _inner.Mode;

    /// <summary>True while this listener holds the source's lock.</summary>
    public bool IsActive => _active;

    /// <summary>Ready = active and the inner capture connected; a standby is not ready (it delivers nothing).</summary>
    public bool IsReady => _active && _inner.IsReady;

    public event Action<CaptureNotice>? Notice;

    public async IAsyncEnumerable<CapturedChange> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await AcquireAsync(cancellationToken).ConfigureAwait(false);
        using var lost = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watch = WatchLockAsync(lost);
        try
        {
            await foreach (var change in _inner.ReadAllAsync(lost.Token).ConfigureAwait(false))
            {
                yield return change;
            }
        }
        finally
        {
            lost.Cancel();
            await watch.ConfigureAwait(false);
            _active = false;
        }
        if (!cancellationToken.IsCancellationRequested)
        {
            throw new LeadershipLostException(_lockName);
        }
    }

    public ValueTask AcknowledgeAsync(CapturedChange change, CancellationToken cancellationToken) =>
        _inner.AcknowledgeAsync(change, cancellationToken);

    /// <summary>Waits until this listener holds the lock; says once that it is a standby.</summary>
    private async Task AcquireAsync(CancellationToken cancellationToken)
    {
        var saidStandby = false;
        var backoff = new Backoff(PollInterval, TimeSpan.FromSeconds(30));
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                _lockConnection ??= await OpenAsync(cancellationToken).ConfigureAwait(false);
                await using var command = new NpgsqlCommand(
                    "SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext('postgressource-active'), pg_catalog.hashtext(@name))", _lockConnection);
                command.Parameters.AddWithValue("name", _lockName);
                if ((bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
                {
                    _active = true;
                    Notice?.Invoke(new CaptureNotice(saidStandby
                        ? $"Took over as the active listener of {_lockName}: the previous one is gone."
                        : $"Active listener of {_lockName}.", PossibleLoss: false));
                    return;
                }
                if (!saidStandby)
                {
                    saidStandby = true;
                    Notice?.Invoke(new CaptureNotice($"Standby: another listener is active for {_lockName}; waiting to take over.", PossibleLoss: false));
                }
                await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
                backoff.Reset();
            }
            catch (Exception ex) when (TransientErrors.IsTransient(ex))
            {
                await DropLockConnectionAsync().ConfigureAwait(false);
                await Task.Delay(backoff.Next(), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Checks the lock session every interval; when it is gone, stops the inner capture.</summary>
    private async Task WatchLockAsync(CancellationTokenSource lost)
    {
        try
        {
            while (!lost.IsCancellationRequested)
            {
                await Task.Delay(PollInterval, lost.Token).ConfigureAwait(false);
                await using var command = new NpgsqlCommand("SELECT 1", _lockConnection);
                await command.ExecuteScalarAsync(lost.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex) when (ex is NpgsqlException or IOException or InvalidOperationException)
        {
            _active = false;
            Notice?.Invoke(new CaptureNotice($"Lost the active-listener lock of {_lockName} ({ex.Message}); stopping so a standby can take over.", PossibleLoss: false));
            await DropLockConnectionAsync().ConfigureAwait(false);
            lost.Cancel();
        }
    }

    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task DropLockConnectionAsync()
    {
        if (_lockConnection is { } connection)
        {
            _lockConnection = null;
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _inner.DisposeAsync().ConfigureAwait(false);
        // Closing the session releases the lock for a standby.
        await DropLockConnectionAsync().ConfigureAwait(false);
    }
}

/// <summary>The active listener lost its lock session: it stopped so that it cannot capture alongside a standby that took over.</summary>
public sealed class LeadershipLostException(string name)
    : Exception($"Lost the active-listener lock of {name}; stopped capturing so a standby can take over. Restart to wait as a standby.");
