@{
    RootModule             = 'PostgresSource.PowerShell.dll'
    ModuleVersion          = '0.1.0'
    CompatiblePSEditions   = @('Core')
    GUID                   = '5d0c3b9e-6f2a-4c1e-9b7d-2a8e4f61c0d7'
    Author                 = 'PostgresSource contributors'
    CompanyName            = 'PostgresSource'
    Copyright              = '(c) 2026 PostgresSource contributors. Apache-2.0.'
    Description            = 'Turns PostgreSQL row changes (INSERT, UPDATE, DELETE) into CloudEvents and delivers them to a Knative Broker, any CloudEvents HTTP endpoint, or the PowerShell pipeline. Seed-compatible with the Knative Eventing postgressource.'
    PowerShellVersion      = '7.4'
    FormatsToProcess       = @('PostgresSource.Format.ps1xml')
    HelpInfoURI            = 'https://github.com/postgressource/postgressource/blob/main/docs/cmdlets.md'
    CmdletsToExport        = @(
        'Export-PgSourceManifest'
        'Get-PgSourceTrigger'
        'Import-PgSource'
        'Install-PgSourceTrigger'
        'New-PgSource'
        'Start-PgSourceListener'
        'Start-PgSourceSnapshot'
        'Sync-PgSourceCluster'
        'Test-PgSourceConnection'
        'Uninstall-PgSourceTrigger'
    )
    FunctionsToExport      = @()
    AliasesToExport        = @()
    VariablesToExport      = @()
    PrivateData            = @{
        PSData = @{
            Tags         = @('PostgreSQL', 'Postgres', 'CloudEvents', 'Knative', 'Kubernetes', 'CDC', 'ChangeDataCapture', 'Events', 'PSEdition_Core', 'Linux', 'Windows', 'MacOS')
            ProjectUri   = 'https://github.com/postgressource/postgressource'
            LicenseUri   = 'https://www.apache.org/licenses/LICENSE-2.0'
            ReleaseNotes = 'See CHANGELOG.md.'
            # Set while CHANGELOG.md says the version is unreleased; removed when it is released.
            Prerelease   = 'preview'
        }
    }
}
