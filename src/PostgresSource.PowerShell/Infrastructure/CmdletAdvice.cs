using PostgresSource.Core.Diagnostics;

namespace PostgresSource.PowerShell.Infrastructure;

/// <summary>
/// The cmdlets' words for each <see cref="Remedy"/> the core and the Kubernetes layer state: which parameter to pass
/// or which cmdlet to run. Core messages say what is wrong and never name a parameter (the adapter and the controller
/// host the same core); this table is the one place that turns a remedy into cmdlet advice, the RecommendedAction
/// of an error record or the second half of a warning.
/// </summary>
internal static class CmdletAdvice
{
    private static readonly Dictionary<Remedy, string> Advice = new()
    {
        [Remedy.ChooseConnection] = "Pass -ConnectionString (and -Credential), or set PGSOURCE_CONNECTION.",
        [Remedy.TakeOverObjects] =
            "Connect as the role that owns the objects named, or pass -TakeOver (Install-PgSourceTrigger, Uninstall-PgSourceTrigger) " +
            "to remove them and install afresh (what they hold is lost).",
        [Remedy.SwitchMode] = "Pass -SwitchMode to switch (read its warnings: waiting changes can be dropped), or use the source's current -Mode.",
        [Remedy.ChooseKubeconfig] = "Pass -Kubeconfig, set KUBECONFIG, or choose one of the kubeconfig's contexts with -Context.",
        [Remedy.ClusterLogin] = "Log in to the cluster again (the token or certificate may have expired), or choose another -Context.",
        [Remedy.ClusterPermission] = "Ask for RBAC permission for the verb and resource named in the message, or use a -Context whose identity has it.",
        [Remedy.TakeOverFields] = "Run again with -Force to take over the conflicting fields, or change them through the field manager that owns them.",
        [Remedy.GiveSink] = "Give the source a sink (New-PgSource -Sink, or spec.sink in YAML).",
        [Remedy.GiveSinkUri] = "Pass -SinkUri, or use Sync-PgSourceCluster, which reads its status.address.url.",
        [Remedy.SkipClusterResourceCheck] = "Pass -SkipClusterResources to skip this check.",
        [Remedy.InstallClusterResources] =
            "Run without -SkipClusterResources, or have an administrator apply: Export-PgSourceManifest -IncludeCrd -IncludeClusterRole",
        [Remedy.GiveSecretConnection] = "Pass -SecretConnectionString, or give the source a connection (New-PgSource -ConnectionString).",
        [Remedy.GiveSecretServer] = "Pass -SecretConnectionString (host, port, database), or give the source a connection (New-PgSource -ConnectionString).",
    };

    /// <summary>
    /// The cmdlet advice for <paramref name="remedy"/>; null for <see cref="Remedy.None"/>. A test holds that every other
    /// value has an entry (a missing one would only lose the advice, never the error).
    /// </summary>
    public static string? For(Remedy remedy) => Advice.GetValueOrDefault(remedy);

    /// <summary>The advice for the remedy <paramref name="exception"/> states, if it states one.</summary>
    public static string? For(Exception exception) => exception is IHasRemedy carrier ? For(carrier.Remedy) : null;

    /// <summary>A warning with the cmdlet advice for its remedy appended.</summary>
    public static string Warning(string message, Remedy remedy) => For(remedy) is { } advice ? message + " " + advice : message;
}
