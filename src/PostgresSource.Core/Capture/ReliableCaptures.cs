using PostgresSource.Core.Capture.Durable;
using PostgresSource.Core.Capture.Logical;
using PostgresSource.Core.Capture.Reliability;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Capture;

/// <summary>The at-least-once captures by mode, for the listener and the adapter to plug in.</summary>
public static class ReliableCaptures
{
    public static bool Supports(CaptureMode mode) => mode is CaptureMode.Durable or CaptureMode.Logical;

    /// <summary>
    /// The Durable or Logical capture for the source's mode. With <paramref name="singleActive"/>, wrapped in a
    /// <see cref="SingleActiveCapture"/>: only one listener per source reads, the others stand by.
    /// </summary>
    /// <exception cref="NotSupportedException">Notify mode (it has its own capture).</exception>
    public static IChangeCapture Create(SourceDefinition source, ConnectionSettings connection, ReliableCaptureOptions? options = null, bool singleActive = false)
    {
        if (!Supports(source.Mode))
        {
            throw new NotSupportedException($"{source.Mode} mode is not an at-least-once mode; use its own capture.");
        }
        if (singleActive)
        {
            return SingleActiveCapture.For(source, connection, options);
        }
        return source.Mode == CaptureMode.Durable
            ? new DurableCapture(source, connection, options)
            : new LogicalCapture(source, connection, options);
    }
}
