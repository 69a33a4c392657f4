using System.Globalization;

namespace PostgresSource.Core.Capture.Snapshots;

/// <summary>
/// A PostgreSQL MVCC snapshot as pg_current_snapshot() prints it ("xmin:xmax:xip,xip,..."), with 64-bit
/// transaction ids (xid8). Answers whether a committed transaction's effects are visible in it.
/// </summary>
internal sealed class PgSnapshot
{
    private readonly HashSet<ulong> _inProgress;

    private PgSnapshot(string text, ulong xmin, ulong xmax, HashSet<ulong> inProgress)
    {
        Text = text;
        Xmin = xmin;
        Xmax = xmax;
        _inProgress = inProgress;
    }

    public string Text { get; }

    /// <summary>Every transaction below this one had ended when the snapshot was taken.</summary>
    public ulong Xmin { get; }

    /// <summary>No transaction at or above this one had started (been given an id) when the snapshot was taken.</summary>
    public ulong Xmax { get; }

    public IReadOnlyCollection<ulong> InProgress => _inProgress;

    public static PgSnapshot Parse(string text)
    {
        var parts = text.Split(':');
        if (parts.Length != 3)
        {
            throw new FormatException($"'{text}' is not a pg_snapshot.");
        }
        var xmin = ulong.Parse(parts[0], CultureInfo.InvariantCulture);
        var xmax = ulong.Parse(parts[1], CultureInfo.InvariantCulture);
        var xip = parts[2].Length == 0
            ? []
            : parts[2].Split(',').Select(x => ulong.Parse(x, CultureInfo.InvariantCulture)).ToHashSet();
        return new PgSnapshot(text, xmin, xmax, xip);
    }

    /// <summary>True when a transaction that committed is visible in this snapshot (it had committed when the snapshot was taken).</summary>
    public bool IsVisible(ulong committedXid) =>
        committedXid < Xmin || (committedXid < Xmax && !_inProgress.Contains(committedXid));

    /// <summary>
    /// A 32-bit transaction id (as logical replication sends it) widened to xid8, taking the epoch that puts it
    /// nearest this snapshot. Right for transactions within two billion of it, which is what snapshots are compared with.
    /// </summary>
    public ulong Widen(uint xid)
    {
        var epoch = Xmax >> 32;
        var candidate = (epoch << 32) | xid;
        const ulong half = 1UL << 31;
        if (candidate > Xmax + half && epoch > 0)
        {
            candidate -= 1UL << 32;
        }
        else if (candidate + half < Xmax)
        {
            candidate += 1UL << 32;
        }
        return candidate;
    }

    public override string ToString() => Text;
}
