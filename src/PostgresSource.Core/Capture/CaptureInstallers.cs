using PostgresSource.Core.Sources;
using PostgresSource.Core.Database;
using PostgresSource.Core.Capture.Notify;
using PostgresSource.Core.Capture.Durable;
using PostgresSource.Core.Capture.Logical;

namespace PostgresSource.Core.Capture;

/// <summary>The installer for each capture mode. A new mode is one more entry here.</summary>
internal static class CaptureInstallers
{
    private static readonly Dictionary<CaptureMode, ICaptureInstaller> ByMode = new()
    {
        [CaptureMode.Notify] = new NotifyTriggerInstaller(),
        [CaptureMode.Durable] = new DurableJournalInstaller(),
        [CaptureMode.Logical] = new LogicalReplicationInstaller(),
    };

    public static ICaptureInstaller For(CaptureMode mode) =>
        ByMode.TryGetValue(mode, out var installer)
            ? installer
            : throw new NotSupportedException($"Capture mode '{mode}' is not available in this version.");

    /// <summary>Every mode's installer: uninstall asks all of them, so a source leaves no trace whatever its mode was.</summary>
    public static IEnumerable<ICaptureInstaller> All => ByMode.Values;
}
