using PostgresSource.Core.Capture.Snapshots;
using PostgresSource.Core.Hosting;

namespace PostgresSource.Adapter;

/// <summary>
/// Logs an initial snapshot's progress as "snapshot progress" lines: the first report of each table (and of
/// each resumed attempt), then at most one line per <paramref name="interval"/> per table, and always the
/// table's final line (done=true). A big table is read in many chunks; a line per chunk would bury the log.
/// </summary>
internal sealed class SnapshotProgressLog(JsonLog log, TimeSpan interval) : IProgress<SnapshotProgress>
{
    private readonly object _gate = new();
    private readonly Dictionary<(string Schema, string Table, int Segment), long> _lastLogged = new();

    /// <summary>Called on the capture's thread; the log writes one line at a time.</summary>
    public void Report(SnapshotProgress value)
    {
        var key = (value.Schema, value.Table, value.Segment);
        var now = Environment.TickCount64;
        lock (_gate)
        {
            if (!value.TableDone && _lastLogged.TryGetValue(key, out var last) && now - last < interval.TotalMilliseconds)
            {
                return;
            }
            _lastLogged[key] = now;
        }
        log.Info("snapshot progress",
            ("schema", value.Schema),
            ("table", value.Table),
            ("tableNumber", value.TableNumber),
            ("tableCount", value.TableCount),
            ("rowsRead", value.RowsRead),
            ("estimatedRows", value.EstimatedRows),
            ("percent", value.TableDone ? 100.0 : value.Fraction is { } fraction ? Math.Round(fraction * 100, 1) : null),
            ("resumed", value.Resumed),
            ("segment", value.Segment),
            ("done", value.TableDone));
    }
}
