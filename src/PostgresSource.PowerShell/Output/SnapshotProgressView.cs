using System.Globalization;
using System.Management.Automation;
using PostgresSource.Core.Capture.Snapshots;
using PostgresSource.PowerShell.Infrastructure;

namespace PostgresSource.PowerShell;

/// <summary>
/// Shows one source's initial snapshot as a progress bar. The capture reports from its own thread; the
/// reports wait in a <see cref="LatestOnlyProgress{T}"/> and are turned into records only when the pipeline
/// thread asks, because WriteProgress may only be called there.
/// </summary>
internal sealed class SnapshotProgressView
{
    private readonly int _activityId;
    private readonly LatestOnlyProgress<SnapshotProgress> _latest;
    private SnapshotProgress? _shown;
    private bool _open;

    /// <param name="activityId">The progress bar's id, distinct per source.</param>
    /// <param name="source">The source, as the user knows it.</param>
    /// <param name="wake">Called from the capture's thread when a new report waits: queue this view for the pipeline thread.</param>
    public SnapshotProgressView(int activityId, string source, Action<SnapshotProgressView> wake)
    {
        _activityId = activityId;
        Activity = $"Snapshot of {source}";
        _latest = new LatestOnlyProgress<SnapshotProgress>(() => wake(this));
    }

    /// <summary>Give this to the capture (CaptureOptions.SnapshotProgress).</summary>
    public IProgress<SnapshotProgress> Reporter => _latest;

    public string Activity { get; }

    /// <summary>The record for the newest report, or null when nothing new arrived. Pipeline thread only.</summary>
    public ProgressRecord? TakeRecord()
    {
        if (_latest.Take() is not { } progress)
        {
            return null;
        }
        _shown = progress;
        var record = ToRecord(progress);
        _open = record.RecordType != ProgressRecordType.Completed;
        return record;
    }

    /// <summary>
    /// A completed record when the bar is still open as the cmdlet ends (it stopped after -MaxEvents or
    /// -Timeout, mid-snapshot), built from the newest report: a progress bar must not outlive its command.
    /// Null when the bar was never shown or is closed already. Pipeline thread only.
    /// </summary>
    public ProgressRecord? TakeCompletion()
    {
        if (_latest.Take() is { } progress)
        {
            _shown = progress;
            _open = true;
        }
        if (!_open || _shown is null)
        {
            return null;
        }
        _open = false;
        var record = ToRecord(_shown);
        record.RecordType = ProgressRecordType.Completed;
        return record;
    }

    private ProgressRecord ToRecord(SnapshotProgress progress)
    {
        var rows = progress.EstimatedRows is { } estimate
            ? string.Create(CultureInfo.InvariantCulture, $"{progress.RowsRead}/{estimate} rows")
            : string.Create(CultureInfo.InvariantCulture, $"{progress.RowsRead} rows");
        var notes = (progress.TableDone ? ", done" : string.Empty) + (progress.Resumed ? ", resumed" : string.Empty);
        var status = string.Create(CultureInfo.InvariantCulture,
            $"table {progress.Schema}.{progress.Table} ({progress.TableNumber} of {progress.TableCount}): {rows}{notes}");
        var lastTableDone = progress.TableDone && progress.TableNumber == progress.TableCount;
        return new ProgressRecord(_activityId, Activity, status)
        {
            PercentComplete = PercentComplete(progress),
            RecordType = lastTableDone ? ProgressRecordType.Completed : ProgressRecordType.Processing,
        };
    }

    /// <summary>Over all tables of the snapshot: finished tables count whole, the current one by its estimate; -1 (unknown) without one.</summary>
    private static int PercentComplete(SnapshotProgress progress)
    {
        var fraction = progress.TableDone ? 1.0 : progress.Fraction;
        if (fraction is null || progress.TableCount < 1)
        {
            return -1;
        }
        var overall = (progress.TableNumber - 1 + fraction.Value) / progress.TableCount;
        return (int)Math.Clamp(Math.Floor(overall * 100), 0, 100);
    }
}
