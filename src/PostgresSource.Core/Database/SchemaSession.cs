using Npgsql;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Database;

/// <summary>
/// A planned install or uninstall, holding an open transaction and the source's advisory lock, so the
/// caller can ask for confirmation between planning and applying and nothing can change in between.
/// Disposing without <see cref="ApplyAsync"/> rolls back: nothing half-done.
/// </summary>
internal sealed class SchemaSession : IAsyncDisposable, IDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _transaction;
    private bool _finished;

    internal SchemaSession(NpgsqlConnection connection, NpgsqlTransaction transaction, SourceDefinition source,
        IReadOnlyList<ResolvedTable> tables, IReadOnlyList<SchemaChange> changes, IReadOnlyList<string>? notes = null)
    {
        Notes = notes ?? [];
        _connection = connection;
        _transaction = transaction;
        Source = source;
        Tables = tables;
        Changes = changes;
    }

    public SourceDefinition Source { get; }
    public IReadOnlyList<ResolvedTable> Tables { get; }
    public IReadOnlyList<SchemaChange> Changes { get; }
    public bool HasChanges => Changes.Count > 0;

    /// <summary>What the operator should read before confirming (a mode switch says what it removes and loses).</summary>
    public IReadOnlyList<string> Notes { get; }

    /// <summary>Runs every change and commits; all or nothing.</summary>
    public async Task ApplyAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        var outside = Changes.Where(c => c.OutsideTransaction).ToList();
        // Every name in the plan is schema-qualified: nothing another role put on the search_path can stand in.
        await using (var pin = new NpgsqlCommand($"SET LOCAL search_path = {Sql.PinnedSearchPath}", _connection, _transaction))
        {
            await pin.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        foreach (var change in Changes.Where(c => !c.OutsideTransaction && !c.AlreadyRun))
        {
            await using var command = new NpgsqlCommand(change.Sql, _connection, _transaction);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await _transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        _finished = true;

        // Replication slots cannot be made inside a transaction block: they follow the commit.
        foreach (var change in outside)
        {
            await using var command = new NpgsqlCommand(change.Sql, _connection);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_finished)
        {
            _finished = true;
            try
            {
                await _transaction.RollbackAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
            {
                // The connection is already gone; the server rolled back for us.
            }
        }
        await _transaction.DisposeAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
