using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Capture.Notify;

namespace PostgresSource.Core.Capture;

/// <summary>Makes the capture for a source's mode. Each mode registers one entry.</summary>
internal static class ChangeCaptureFactory
{
    private static readonly Dictionary<CaptureMode, Func<SourceDefinition, ConnectionSettings, CaptureOptions, IChangeCapture>> Factories = new()
    {
        [CaptureMode.Notify] = (source, connection, options) => new NotifyCapture(source, connection, options),
        [CaptureMode.Durable] = (source, connection, options) => new Durable.DurableCapture(source, connection, options),
        [CaptureMode.Logical] = (source, connection, options) => new Logical.LogicalCapture(source, connection, options),
    };

    public static bool Supports(CaptureMode mode) => Factories.ContainsKey(mode);

    /// <exception cref="NotSupportedException">The mode has no capture in this build, or cannot peek (<see cref="CaptureOptions.Peek"/>).</exception>
    public static IChangeCapture Create(SourceDefinition source, ConnectionSettings connection, CaptureOptions? options = null)
    {
        options = (options ?? CaptureOptions.Default).Validate();
        if (options.Peek)
        {
            return source.Mode switch
            {
                CaptureMode.Durable => new Durable.JournalPeek(source, connection, options),
                // pg_logical_slot_peek_binary_changes needs the slot inactive (it would take it from a running listener,
                // or fail), and decoding raw pgoutput is not what the streaming capture does.
                CaptureMode.Logical => throw new NotSupportedException(
                    $"Source {source.EventSource} is in Logical mode, which cannot be read without consuming it: peeking at a replication slot " +
                    "needs the slot idle and would hold it away from a running listener. Get-PgSourceTrigger shows the slot's backlog " +
                    "(SlotActive, ConfirmedFlushLsn, RetainedWalBytes)."),
                _ => throw new NotSupportedException(
                    $"Source {source.EventSource} is in {source.Mode} mode, which keeps no backlog to read: changes exist only as notifications " +
                    "to connected listeners. Durable mode keeps a journal that can be read without consuming it."),
            };
        }
        if (!Factories.TryGetValue(source.Mode, out var create))
        {
            throw new NotSupportedException($"Capture mode {source.Mode} is not available in this build.");
        }
        if (!options.SingleActive)
        {
            return create(source, connection, options);
        }
        // Only one listener runs while the leader lock is held: a slot still held by a dead one may be taken over.
        var active = options with { TakeOverSlot = true };
        return new Reliability.SingleActiveCapture(source, connection, () => create(source, connection, active), options);
    }
}
