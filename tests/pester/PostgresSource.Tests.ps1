#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
<#
    The module as a user drives it, for machines with pwsh and Pester 5.
    Needs PGSOURCE_TEST_CONNECTION: a database where the test may create and drop tables.
    Run: ./build.ps1 -Task Pester   (or Invoke-Pester ./tests/pester)
#>

BeforeDiscovery {
    $script:skip = -not $env:PGSOURCE_TEST_CONNECTION
}

BeforeAll {
    $manifest = Join-Path $PSScriptRoot '../../out/PostgresSource/PostgresSource.psd1'
    Import-Module $manifest -Force
    $script:cs = $env:PGSOURCE_TEST_CONNECTION
}

AfterAll {
    Remove-Module PostgresSource -ErrorAction SilentlyContinue
}

Describe 'PostgresSource module' {
    It 'exports exactly the cmdlets in the manifest' {
        $exported = (Get-Command -Module PostgresSource).Name | Sort-Object
        $manifest = (Import-PowerShellDataFile (Join-Path $PSScriptRoot '../../out/PostgresSource/PostgresSource.psd1')).CmdletsToExport | Sort-Object
        $exported | Should -Be $manifest
    }

    It 'has help with examples for <_>' -ForEach @(Get-Command -Module PostgresSource | ForEach-Object Name) {
        $help = Get-Help $_ -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        @($help.Examples.Example).Count | Should -BeGreaterOrEqual 2
    }
}

Describe 'Installing and removing a source' -Skip:$skip {
    BeforeAll {
        $table = 'pester_orders_' + [guid]::NewGuid().ToString('N').Substring(0, 8)
        $script:table = $table
        $script:source = New-PgSource -Name ($table -replace '_', '-') -Table $table -ConnectionString $cs
    }

    It 'reports a missing table with a stable error id and changes nothing' {
        $result = $source | Install-PgSourceTrigger -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable failures
        $result | Should -BeNullOrEmpty
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'PgSource.TableNotFound,*'
        Get-PgSourceTrigger -ConnectionString $cs -Name $source.Name | Should -BeNullOrEmpty
    }

    It 'writes a reviewable script without the password' {
        $sql = $source | Install-PgSourceTrigger -Script
        $sql | Should -Match 'CREATE TRIGGER'
        if ($cs -match '(?i)password=([^;\s]+)') {
            $sql | Should -Not -Match ([regex]::Escape($Matches[1]))
        }
    }

    It 'tests the connection' {
        Test-PgSourceConnection -ConnectionString $cs | Should -BeTrue
    }
}

Describe 'Capturing changes' -Skip:($skip -or -not (Get-Command psql -ErrorAction SilentlyContinue)) {
    BeforeAll {
        $script:table = 'pester_items_' + [guid]::NewGuid().ToString('N').Substring(0, 8)
        & psql $cs -q -v ON_ERROR_STOP=1 -c "CREATE TABLE $table (id int PRIMARY KEY, qty int)"
        $script:source = New-PgSource -Name ($table -replace '_', '-') -Table $table -Mode Durable -ConnectionString $cs
    }

    AfterAll {
        $script:source | Uninstall-PgSourceTrigger -Confirm:$false | Out-Null
        & psql $cs -q -c "DROP TABLE IF EXISTS $table"
    }

    It 'installs once, and a second install changes nothing' {
        ($source | Install-PgSourceTrigger -Confirm:$false).Status | Should -Be 'Installed'
        ($source | Install-PgSourceTrigger -Confirm:$false).Status | Should -Be 'Unchanged'
    }

    It 'delivers inserts, updates and deletes as events' {
        & psql $cs -q -v ON_ERROR_STOP=1 -c "INSERT INTO $table VALUES (1, 5); UPDATE $table SET qty = 6 WHERE id = 1; DELETE FROM $table WHERE id = 1"
        $events = @($source | Start-PgSourceListener -MaxEvents 3 -Timeout 15)
        $events.Operation | Should -Be @('INSERT', 'UPDATE', 'DELETE')
        $events[1].Data.qty | Should -Be 6
        $events | ForEach-Object { $_.Type | Should -Be 'dev.vaikas.postgres' }
    }

    It 'exports Kubernetes YAML without the password' {
        $yaml = $source | Export-PgSourceManifest -IncludeCrd -SinkUri http://broker-ingress.knative-eventing.svc.cluster.local/default/default | Out-String
        $yaml | Should -Match 'kind: Deployment'
        $yaml | Should -Match 'sources.vaikas.dev'
        if ($cs -match '(?i)password=([^;\s]+)') {
            $yaml | Should -Not -Match ([regex]::Escape($Matches[1]))
        }
    }

    It 'uninstalls without a trace' {
        ($source | Uninstall-PgSourceTrigger -Confirm:$false).Status | Should -Be 'Removed'
        Get-PgSourceTrigger -ConnectionString $cs -Name $source.Name | Should -BeNullOrEmpty
    }
}
