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
    public const string DeliveryFailed = "PgSource.DeliveryFailed";
    public const string InvalidSink = "PgSource.InvalidSink";
    public const string ListenerFailed = "PgSource.ListenerFailed";
}
