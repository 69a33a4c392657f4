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
