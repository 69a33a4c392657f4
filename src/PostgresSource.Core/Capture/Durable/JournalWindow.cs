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
/// its transaction id (the trigger runs after the user's row was written), so below S's xmax. Once a later
/// read's snapshot has xmin at or above that xmax, all those transactions have ended, and if that read also
/// covered every visible row up to P, nothing at or below P can ever appear: Low becomes P + 1.
/// </para>
/// </summary>
internal sealed class JournalWindow
{
    private readonly Queue<(long Position, ulong Xmax)> _checkpoints = new();
    private const int MaxCheckpoints = 4096;

    /// <summary>The smallest journal id a read must still consider.</summary>
    public long Low { get; private set; }

    /// <summary>The largest id any read returned.</summary>
    public long MaxSeen { get; private set; }

    public int PendingCheckpoints => _checkpoints.Count;

    /// <summary>
    /// Records one read: its snapshot, the ids it returned (ascending; rows at or above <see cref="Low"/> not
    /// emitted before), and whether it stopped early (limit reached), so that only a prefix of the visible rows was seen.
    /// </summary>
    public void Observe(PgSnapshot snapshot, IReadOnlyList<long> returned, bool truncated)
    {
        if (returned.Count > 0)
        {
            MaxSeen = Math.Max(MaxSeen, returned[^1]);
        }
        // Every visible row at or below 'covered' (and at or above Low) has now been returned or emitted before.
        var covered = truncated ? (returned.Count > 0 ? returned[^1] : Low - 1) : long.MaxValue;

        while (_checkpoints.TryPeek(out var checkpoint) && checkpoint.Xmax <= snapshot.Xmin && checkpoint.Position <= covered)
        {
            _checkpoints.Dequeue();
            Low = Math.Max(Low, checkpoint.Position + 1);
        }

        var position = truncated ? (returned.Count > 0 ? returned[^1] : -1) : MaxSeen;
        if (position < Low)
        {
            return;
        }
        if (_checkpoints.Count > 0 && _checkpoints.Last() is var tail && tail.Xmax == snapshot.Xmax)
        {
            // Same horizon as the newest checkpoint: widen it rather than queue another.
            if (position > tail.Position)
            {
                ReplaceTail((position, tail.Xmax));
            }
            return;
        }
        _checkpoints.Enqueue((position, snapshot.Xmax));
        if (_checkpoints.Count > MaxCheckpoints)
        {
            // A very long transaction holds xmin back: merge the two oldest (the larger position and horizon is always safe, only later).
            var a = _checkpoints.Dequeue();
            var b = _checkpoints.Dequeue();
            var rest = _checkpoints.ToArray();
            _checkpoints.Clear();
            _checkpoints.Enqueue((Math.Max(a.Position, b.Position), Math.Max(a.Xmax, b.Xmax)));
            foreach (var item in rest)
            {
                _checkpoints.Enqueue(item);
            }
        }
    }

    private void ReplaceTail((long Position, ulong Xmax) tail)
    {
        var items = _checkpoints.ToArray();
        items[^1] = tail;
        _checkpoints.Clear();
        foreach (var item in items)
        {
            _checkpoints.Enqueue(item);
        }
    }
}
