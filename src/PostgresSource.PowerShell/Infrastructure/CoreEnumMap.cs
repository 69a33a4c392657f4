using PostgresSource.Core.Delivery;
using PostgresSource.Core.Listening;
using PostgresSource.Core.Sources;
using PostgresSource.Kubernetes;

namespace PostgresSource.PowerShell.Infrastructure;

/// <summary>
/// The cmdlets' public enums and the core's, mapped by name and checked by a test (ListenerParameterTests):
/// the two assemblies version their enums apart, so a cast of the number could silently pick another member.
/// </summary>
internal static class CoreEnumMap
{
    public static DeliveryOrder ToCore(PgSourceDeliveryOrder value) => value switch
    {
        PgSourceDeliveryOrder.Commit => DeliveryOrder.Commit,
        PgSourceDeliveryOrder.Key => DeliveryOrder.Key,
        PgSourceDeliveryOrder.Unordered => DeliveryOrder.Unordered,
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "Not a delivery order."),
    };

    public static UndeliverableAction ToCore(PgSourceUndeliverableAction value) => value switch
    {
        PgSourceUndeliverableAction.Stop => UndeliverableAction.Stop,
        PgSourceUndeliverableAction.Skip => UndeliverableAction.Skip,
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "Not an undeliverable action."),
    };

    public static EventContentMode ToCore(PgSourceContentMode value) => value switch
    {
        PgSourceContentMode.Binary => EventContentMode.Binary,
        PgSourceContentMode.Structured => EventContentMode.Structured,
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "Not a content mode."),
    };

    public static CaptureMode ToCore(PgSourceMode value) => value switch
    {
        PgSourceMode.Notify => CaptureMode.Notify,
        PgSourceMode.Durable => CaptureMode.Durable,
        PgSourceMode.Logical => CaptureMode.Logical,
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "Not a capture mode."),
    };

    public static PgSourceMode ToPowerShell(CaptureMode value) => value switch
    {
        CaptureMode.Notify => PgSourceMode.Notify,
        CaptureMode.Durable => PgSourceMode.Durable,
        CaptureMode.Logical => PgSourceMode.Logical,
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "Not a capture mode."),
    };

    public static PgSourceClusterAction ToPowerShell(ChangeAction value) => value switch
    {
        ChangeAction.Created => PgSourceClusterAction.Created,
        ChangeAction.Configured => PgSourceClusterAction.Configured,
        ChangeAction.Unchanged => PgSourceClusterAction.Unchanged,
        ChangeAction.Deleted => PgSourceClusterAction.Deleted,
        ChangeAction.WouldCreate => PgSourceClusterAction.WouldCreate,
        ChangeAction.WouldConfigure => PgSourceClusterAction.WouldConfigure,
        ChangeAction.WouldDelete => PgSourceClusterAction.WouldDelete,
        ChangeAction.Skipped => PgSourceClusterAction.Skipped,
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "Not a cluster change."),
    };
}
