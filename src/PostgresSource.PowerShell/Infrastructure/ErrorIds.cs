namespace PostgresSource.PowerShell.Infrastructure;

/// <summary>
/// Stable error ids. Runbooks match on FullyQualifiedErrorId ("Id,PostgresSource.PowerShell.Cmdlets.XxxCommand"),
/// so these never change meaning once released. Documented in about_PostgresSource.
/// </summary>
internal static class ErrorIds
{
    public const string InvalidSource = "PgSource.InvalidSource";
    public const string InvalidConnectionString = "PgSource.InvalidConnectionString";
    public const string NoConnection = "PgSource.NoConnection";
    public const string ConnectionFailed = "PgSource.ConnectionFailed";
    public const string AuthenticationFailed = "PgSource.AuthenticationFailed";
    public const string PermissionDenied = "PgSource.PermissionDenied";
    public const string TableNotFound = "PgSource.TableNotFound";
    public const string DatabaseError = "PgSource.DatabaseError";
    public const string LockTimeout = "PgSource.LockTimeout";
    public const string ManifestNotFound = "PgSource.ManifestNotFound";
    public const string ManifestInvalid = "PgSource.ManifestInvalid";
    public const string OperationTimeout = "PgSource.OperationTimeout";
    public const string Unexpected = "PgSource.Unexpected";
    public const string ModeConflict = "PgSource.ModeConflict";
    public const string NotOwner = "PgSource.NotOwner";

    // Kubernetes (Export-PgSourceManifest, Sync-PgSourceCluster).
    public const string KubeconfigInvalid = "PgSource.KubeconfigInvalid";
    public const string ClusterUnreachable = "PgSource.ClusterUnreachable";
    public const string ClusterUnauthorized = "PgSource.ClusterUnauthorized";
    public const string ClusterForbidden = "PgSource.ClusterForbidden";
    public const string ClusterConflict = "PgSource.ClusterConflict";
    public const string ClusterRequestFailed = "PgSource.ClusterRequestFailed";
    public const string SinkNotResolved = "PgSource.SinkNotResolved";
    public const string UninstallJobFailed = "PgSource.UninstallJobFailed";
    public const string FileExists = "PgSource.FileExists";
    public const string ManifestWriteFailed = "PgSource.ManifestWriteFailed";
    public const string UninstallNeedsPrune = "PgSource.UninstallNeedsPrune";

    // Listening and delivery (Start-PgSourceListener).
    public const string DeliveryFailed = "PgSource.DeliveryFailed";
    public const string InvalidSink = "PgSource.InvalidSink";
    public const string ListenerFailed = "PgSource.ListenerFailed";
    public const string ChangeSkipped = "PgSource.ChangeSkipped";
    public const string SourceBusy = "PgSource.SourceBusy";
    public const string PeekNotSupported = "PgSource.PeekNotSupported";
    /// <summary>The source's mode cannot do what was asked (a backfill of a Notify source).</summary>
    public const string NotSupported = "PgSource.NotSupported";
    public const string InvalidParameter = "PgSource.InvalidParameter";
}
