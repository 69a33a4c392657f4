using PostgresSource.Core.Diagnostics;

namespace PostgresSource.Adapter;

/// <summary>
/// The adapter's words for the <see cref="Remedy"/> a core error states, logged as the error's "remedy" field: the
/// adapter is configured by its environment (and, in a cluster, by its PostgresSource), so the advice names those.
/// Only the remedies the adapter's own work can meet are here; the cluster ones belong to the cmdlets and controller.
/// </summary>
internal static class AdapterAdvice
{
    private static readonly Dictionary<Remedy, string> Advice = new()
    {
        [Remedy.ChooseConnection] = "set PGSOURCE_CONNECTION, mount the Secret's connectionstr (PGSOURCE_CONNECTION_FILE), or set the PG* variables",
        [Remedy.TakeOverObjects] =
            "connect as the role that owns the objects (the connection's user), or remove them first (Uninstall-PgSourceTrigger -TakeOver); the adapter never takes objects over",
        [Remedy.SwitchMode] =
            "set PGSOURCE_MODE to the installed mode, or switch on purpose first (Install-PgSourceTrigger -SwitchMode); the adapter never switches modes",
    };

    /// <summary>The remedies the adapter can meet; a test holds that each has advice.</summary>
    public static IReadOnlyList<Remedy> Handled { get; } = [Remedy.ChooseConnection, Remedy.TakeOverObjects, Remedy.SwitchMode];

    public static string? For(Remedy remedy) => Advice.GetValueOrDefault(remedy);

    /// <summary>The advice for what <paramref name="exception"/> states, if it states a remedy the adapter has words for.</summary>
    public static string? For(Exception exception) => exception is IHasRemedy carrier ? For(carrier.Remedy) : null;
}
