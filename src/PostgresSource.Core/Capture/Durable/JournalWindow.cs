using PostgresSource.Core.Capture.Snapshots;

namespace PostgresSource.Core.Capture.Durable;

/// <summary>
/// Which part of the journal a Durable reader must still look at. Journal ids are handed out in time
/// order (an identity with CACHE 1), but transactions commit in any order, so a row with a small id can
/// appear long after rows with larger ids were read. The reader therefore never keeps a plain high-water
/// mark. It scans from a low-water mark <see cref="Low"/> and skips rows it has already emitted (they stay
/// in the journal until acknowledged, then are deleted).
/// <para>
/// The low-water mark moves only when it is proven safe. Every row with an id at most P, where P is an id
/// that was visible to a read with snapshot S, was given its id before S by a transaction that already had
/// its transaction id (the trigger runs after the user's row was written). The read takes a transaction id
/// of its own right after S (its "bound"): ids are handed out in order, so every such transaction has a
/// smaller one. (S's xmax is no such bound: it is one past the latest completed transaction, and a running
/// transaction may have an id at or above it.) Once a later read's snapshot has xmin at or above the bound,
/// all those transactions have ended (a running one would hold xmin at or below its id), and if that read
/// also covered every visible row up to P, nothing at or below P can ever appear: Low becomes P + 1.
/// </para>
/// </summary>
internal sealed class JournalWindow
{
    private readonly Queue<(long Position, ulong Bound)> _checkpoints = new();
    private const int MaxCheckpoints = 4096;

    /// <summary>The smallest journal id a read must still consider.</summary>
    public long Low { get; private set; }

    /// <summary>The largest id any read returned.</summary>
    public long MaxSeen { get; private set; }

    public int PendingCheckpoints => _checkpoints.Count;

    /// <summary>
    /// Whether the next read should take a bound (a transaction id of its own). Once everything read is behind
    /// <see cref="Low"/>, an idle reader needs none, so an idle source uses up no transaction ids.
    /// </summary>
    public bool NeedsBound => MaxSeen >= Low;

    /// <summary>
    /// Records one read: its snapshot, its bound (a transaction id taken after the snapshot), the ids it returned
    /// (ascending; rows at or above <see cref="Low"/> not emitted before), and whether it stopped early (limit
    /// reached), so that only a prefix of the visible rows was seen.
    /// </summary>
    public void Observe(PgSnapshot snapshot, ulong? bound, IReadOnlyList<long> returned, bool truncated)
    {
        if (returned.Count > 0)
        {
            MaxSeen = Math.Max(MaxSeen, returned[^1]);
        }
        // Every visible row at or below 'covered' (and at or above Low) has now been returned or emitted before.
        var covered = truncated ? (returned.Count > 0 ? returned[^1] : Low - 1) : long.MaxValue;

        while (_checkpoints.TryPeek(out var checkpoint) && checkpoint.Bound <= snapshot.Xmin && checkpoint.Position <= covered)
        {
            _checkpoints.Dequeue();
            Low = Math.Max(Low, checkpoint.Position + 1);
        }

        var position = truncated ? (returned.Count > 0 ? returned[^1] : -1) : MaxSeen;
        if (position < Low || bound is null)
        {
            // Nothing to promise, or no bound taken: the next read (which takes one) records it.
            return;
        }
        if (_checkpoints.Count > 0 && _checkpoints.Last() is var tail && tail.Position >= position)
        {
            // Already promised by an earlier checkpoint, which is released no later than this one would be.
            return;
        }
        _checkpoints.Enqueue((position, bound.Value));
        if (_checkpoints.Count > MaxCheckpoints)
        {
            // A very long transaction holds xmin back: merge the two oldest (the larger position and bound is always safe, only later).
            var a = _checkpoints.Dequeue();
            var b = _checkpoints.Dequeue();
            var rest = _checkpoints.ToArray();
            _checkpoints.Clear();
            _checkpoints.Enqueue((Math.Max(a.Position, b.Position), Math.Max(a.Bound, b.Bound)));
            foreach (var item in rest)
            {
                _checkpoints.Enqueue(item);
            }
        }
    }
}
