using PostgresSource.Core.Diagnostics;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Database;

/// <summary>
/// The source is installed in another capture mode. Switching modes can drop changes that are still
/// waiting (a Durable journal, a Logical slot), so it is never done implicitly.
/// </summary>
internal sealed class CaptureModeConflictException(SourceDefinition source, IReadOnlyList<CaptureMode> installedModes)
    : Exception($"Source {source.EventSource} is installed in {string.Join(" and ", installedModes)} mode, not {source.Mode}. " +
                $"Switching modes is explicit and was not asked for: it removes the {string.Join(" and ", installedModes)} objects and installs {source.Mode} mode. Nothing was changed."), IHasRemedy
{
    public IReadOnlyList<CaptureMode> InstalledModes { get; } = installedModes;

    public Remedy Remedy => Remedy.SwitchMode;
}
