namespace PostgresSource.PowerShell.Infrastructure;

/// <summary>
/// Where Get-Help -Online goes: the project's cmdlet reference (docs/cmdlets.md, one section per cmdlet) on the
/// repository named by the manifest's ProjectUri. The manifest's HelpInfoURI names the same page.
/// </summary>
internal static class HelpLinks
{
    public const string Reference = "https://github.com/postgressource/postgressource/blob/main/docs/cmdlets.md";

    public const string ExportPgSourceManifest = Reference + "#export-pgsourcemanifest";
    public const string GetPgSourceTrigger = Reference + "#get-pgsourcetrigger";
    public const string ImportPgSource = Reference + "#import-pgsource";
    public const string InstallPgSourceTrigger = Reference + "#install-pgsourcetrigger";
    public const string NewPgSource = Reference + "#new-pgsource";
    public const string StartPgSourceListener = Reference + "#start-pgsourcelistener";
    public const string StartPgSourceSnapshot = Reference + "#start-pgsourcesnapshot";
    public const string SyncPgSourceCluster = Reference + "#sync-pgsourcecluster";
    public const string TestPgSourceConnection = Reference + "#test-pgsourceconnection";
    public const string UninstallPgSourceTrigger = Reference + "#uninstall-pgsourcetrigger";
}
