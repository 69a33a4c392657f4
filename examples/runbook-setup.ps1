<#
    Automation runbook: make sure every source in a folder of seed-style YAML is installed.
    Non-interactive and idempotent: safe to run on a schedule. Credentials come from the
    environment (an Azure Automation variable or a CI secret mapped to PGSOURCE_CONNECTION).
#>
param(
    [string] $SourceFolder = './sources'
)

$ErrorActionPreference = 'Stop'
Import-Module PostgresSource

if (-not $env:PGSOURCE_CONNECTION) {
    throw 'Set PGSOURCE_CONNECTION to the database connection string.'
}
if (-not (Test-PgSourceConnection)) {
    throw 'The database in PGSOURCE_CONNECTION does not answer.'
}

$results = Get-ChildItem -Path $SourceFolder -Filter *.yaml |
    Import-PgSource |
    Install-PgSourceTrigger -Confirm:$false -ErrorAction Continue -ErrorVariable installErrors

foreach ($result in $results) {
    "{0}: {1}" -f $result.Source, $result.Status
}
foreach ($failure in $installErrors) {
    if ($failure.FullyQualifiedErrorId -like 'PgSource.TableNotFound,*') {
        "Skipped {0}: a table is missing ({1})" -f $failure.TargetObject, $failure.Exception.Message
    }
    else {
        throw $failure
    }
}
