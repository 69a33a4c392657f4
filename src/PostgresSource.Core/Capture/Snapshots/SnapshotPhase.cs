using PostgresSource.Core.Database;
using System.Runtime.CompilerServices;
using Npgsql;
using PostgresSource.Core.Capture.Reliability;

namespace PostgresSource.Core.Capture.Snapshots;

/// <summary>Runs snapshot attempts until every table is read, reconnecting after a lost connection (the next attempt continues where the last stopped).</summary>
internal static class SnapshotPhase
{
    public static async IAsyncEnumerable<CapturedChange> RunAsync(
        SnapshotRunner runner, string connectionString, PositionIssuer owner, Func<long> nextSequence, Func<long> lastSequence,
        Func<Exception, string, Task> failed, [EnumeratorCancellation] CancellationToken token)
    {
        while (runner.Needed)
        {
            var connection = new NpgsqlConnection(connectionString);
            await using (connection)
            {
                var opened = await Guard.RunAsync(() => connection.OpenAsync(token)).ConfigureAwait(false);
                if (opened is not null)
                {
                    await failed(opened, "while connecting for the snapshot").ConfigureAwait(false);
                    continue;
                }
                await using var reads = runner.ReadSegmentAsync(connection, owner, nextSequence, lastSequence, token).GetAsyncEnumerator(token);
                while (true)
                {
                    var (has, error) = await Guard.MoveAsync(reads).ConfigureAwait(false);
                    if (error is not null)
                    {
                        await failed(error, "while taking the snapshot").ConfigureAwait(false);
                        break;
                    }
                    if (!has)
                    {
                        break;
                    }
                    yield return reads.Current;
                }
            }
        }
    }
}

/// <summary>Turns transient failures into values, so iterators can react to them (a yield cannot sit in a try with a catch).</summary>
internal static class Guard
{
    public static async Task<(bool Has, Exception? Error)> MoveAsync<T>(IAsyncEnumerator<T> enumerator)
    {
        try
        {
            return (await enumerator.MoveNextAsync().ConfigureAwait(false), null);
        }
        catch (Exception ex) when (TransientErrors.IsTransient(ex))
        {
            return (false, ex);
        }
    }

    public static async Task<Exception?> RunAsync(Func<Task> action)
    {
        try
        {
            await action().ConfigureAwait(false);
            return null;
        }
        catch (Exception ex) when (TransientErrors.IsTransient(ex))
        {
            return ex;
        }
    }
}
