using Npgsql;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture.Reliability;

/// <summary>
/// One ordinary connection shared by a capture's reads and acknowledgements, one user at a time.
/// Opened on first use and again after it broke; a broken connection is thrown away so the next use reconnects.
/// </summary>
internal sealed class ControlConnection(string connectionString) : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private NpgsqlConnection? _connection;
    private bool _disposed;

    /// <summary>The server process id of the open connection (for tests and diagnostics), or null.</summary>
    public int? ProcessId => _connection is { State: System.Data.ConnectionState.Open } c ? c.ProcessID : null;

    public async Task<T> UseAsync<T>(Func<NpgsqlConnection, CancellationToken, Task<T>> action, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_connection is null || _connection.State != System.Data.ConnectionState.Open)
            {
                await DropAsync().ConfigureAwait(false);
                _connection = await DatabaseConnection.OpenAsync(connectionString, cancellationToken).ConfigureAwait(false);
            }
            try
            {
                return await action(_connection, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not PostgresException || TransientErrors.IsTransient(ex) || ex is OperationCanceledException)
            {
                // The connection may be mid-protocol or dead: start afresh next time.
                await DropAsync().ConfigureAwait(false);
                throw;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task UseAsync(Func<NpgsqlConnection, CancellationToken, Task> action, CancellationToken cancellationToken) =>
        UseAsync<bool>(async (c, t) => { await action(c, t).ConfigureAwait(false); return true; }, cancellationToken);

    private async Task DropAsync()
    {
        var connection = _connection;
        _connection = null;
        if (connection is not null)
        {
            try
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException or InvalidOperationException or TimeoutException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Waits for a running use to finish, so a delete in flight is not cut; a brief wait at most.
        var entered = await _gate.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        try
        {
            _disposed = true;
            await DropAsync().ConfigureAwait(false);
        }
        finally
        {
            if (entered)
            {
                _gate.Release();
            }
        }
    }
}
