using PostgresSource.Core.Delivery;
using PostgresSource.Core.Listening;

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
}
