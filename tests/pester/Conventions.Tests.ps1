#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
<#
    The pipeline conventions users script against (issue 14, item 5), as a user writes them:
    objects act on the database they came from, Import-Csv | New-PgSource, -Credential, -Debug's SQL,
    High-impact confirmation, -PassThru after a skipped change, HelpUri and the manifest's help fields.
    Needs PGSOURCE_TEST_CONNECTION (any form the module reads). Run: tests/pester/Invoke-PgSourcePester.ps1
#>

BeforeDiscovery {
    $script:skip = -not $env:PGSOURCE_TEST_CONNECTION
    # The -Credential tests take the password out of the test connection string: it needs one.
    Import-Module (Join-Path $PSScriptRoot 'TestDatabase.psm1') -Force
    $script:noTestPassword = -not $env:PGSOURCE_TEST_CONNECTION -or -not (Get-TestPassword)
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestDatabase.psm1') -Force
    Import-Module PostgresSource
    $script:cs = $env:PGSOURCE_TEST_CONNECTION
    $script:suffix = [guid]::NewGuid().ToString('N').Substring(0, 8)
}

Describe 'Objects act on the database they came from' -Skip:$skip {
    BeforeAll {
        $script:a = New-TestDatabase "pester_a_$suffix"
        $script:b = New-TestDatabase "pester_b_$suffix"
        foreach ($db in $a, $b) {
            Invoke-TestSql 'CREATE TABLE orders (id int PRIMARY KEY)' -ConnectionString $db | Out-Null
            New-PgSource -Name conv -Table orders -ConnectionString $db | Install-PgSourceTrigger -Confirm:$false | Out-Null
        }
        $script:saved = $env:PGSOURCE_CONNECTION
        $env:PGSOURCE_CONNECTION = $a
    }

    AfterAll {
        $env:PGSOURCE_CONNECTION = $saved
        # The module's connection pools still hold sessions there: FORCE ends them (PostgreSQL 13+).
        Remove-TestDatabase "pester_a_$suffix"
        Remove-TestDatabase "pester_b_$suffix"
    }

    It 'shows where each row lives, with the password masked' {
        $row = Get-PgSourceTrigger -ConnectionString $b
        $row.Database | Should -Be "pester_b_$suffix"
        $row.Host | Should -Not -BeNullOrEmpty
        $password = Get-TestPassword
        if ($password) {
            "$($row.Connection)" | Should -Not -Match ([regex]::Escape($password))
            ($row | Format-List * | Out-String) | Should -Not -Match ([regex]::Escape($password))
            [System.Management.Automation.PSSerializer]::Serialize($row) | Should -Not -Match ([regex]::Escape($password))
        }
    }

    It 'uninstalls from B although PGSOURCE_CONNECTION points at A' {
        Get-PgSourceTrigger -ConnectionString $b | Uninstall-PgSourceTrigger -Confirm:$false | Select-Object -ExpandProperty Status | Should -Be 'Removed'
        Get-PgSourceTrigger -ConnectionString $b | Should -BeNullOrEmpty
        Get-PgSourceTrigger -ConnectionString $a | Should -Not -BeNullOrEmpty
    }

    It 'lets a -ConnectionString typed on the downstream cmdlet win' {
        New-PgSource -Name conv -Table orders -ConnectionString $b | Install-PgSourceTrigger -Confirm:$false | Out-Null
        Get-PgSourceTrigger -ConnectionString $b | Uninstall-PgSourceTrigger -ConnectionString $a -Confirm:$false | Out-Null
        Get-PgSourceTrigger -ConnectionString $a | Should -BeNullOrEmpty
        Get-PgSourceTrigger -ConnectionString $b | Should -Not -BeNullOrEmpty
    }

    It 'passes the connection on with -PassThru' {
        $installed = New-PgSource -Name passed -Table orders -ConnectionString $b | Install-PgSourceTrigger -PassThru -Confirm:$false
        $installed.Database | Should -Be "pester_b_$suffix"
        ($installed | Get-PgSourceTrigger).Database | Should -Be "pester_b_$suffix"
    }
}

Describe 'Sources from a CSV file' -Skip:$skip {
    BeforeAll {
        Invoke-TestSql "CREATE TABLE csv_orders_$suffix (id int PRIMARY KEY); CREATE TABLE ""csv,odd_$suffix"" (id int PRIMARY KEY)" | Out-Null
        $script:csv = Join-Path ([System.IO.Path]::GetTempPath()) "pgsource-$suffix.csv"
        [pscustomobject]@{ Name = "csv-$suffix"; Table = "csv_orders_$suffix, ""csv,odd_$suffix"""; Mode = 'Notify'; ConnectionString = $cs; Sink = '' } |
            Export-Csv -Path $csv -NoTypeInformation
    }

    AfterAll {
        Get-PgSourceTrigger -ConnectionString $cs -Name "csv-$suffix" | Uninstall-PgSourceTrigger -Confirm:$false | Out-Null
        Invoke-TestSql "DROP TABLE IF EXISTS csv_orders_$suffix, ""csv,odd_$suffix""" | Out-Null
        Remove-Item $csv -ErrorAction SilentlyContinue
    }

    It 'installs every row: Import-Csv | New-PgSource | Install-PgSourceTrigger' {
        $result = Import-Csv $csv | New-PgSource | Install-PgSourceTrigger -Confirm:$false
        $result.Status | Should -Be 'Installed'
        (Get-PgSourceTrigger -ConnectionString $cs -Name "csv-$suffix").Table | Sort-Object | Should -Be (@("csv,odd_$suffix", "csv_orders_$suffix") | Sort-Object)
    }
}

Describe 'Logging in with -Credential' -Skip:($skip -or $noTestPassword) {
    BeforeAll {
        $password = Get-TestPassword
        $script:secure = ConvertTo-SecureString $password -AsPlainText -Force
        $noPassword = Remove-TestPassword $cs
        $user = Get-TestConnectionPart PGUSER $cs
        $script:noPassword = $noPassword
        $script:credential = [pscredential]::new($user, $secure)
        Invoke-TestSql "CREATE TABLE cred_orders_$suffix (id int PRIMARY KEY)" | Out-Null
    }

    AfterAll {
        Invoke-TestSql "DROP TABLE IF EXISTS cred_orders_$suffix" | Out-Null
    }

    It 'connects with a password-less connection string and a PSCredential' {
        Test-PgSourceConnection -ConnectionString $noPassword -Credential $credential | Should -BeTrue
    }

    It 'connects with a SecureString alone (the user from the string)' {
        Test-PgSourceConnection -ConnectionString $noPassword -Credential $secure | Should -BeTrue
    }

    It 'fails with PgSource.AuthenticationFailed without one' {
        { Get-PgSourceTrigger -ConnectionString $noPassword -ErrorAction Stop } | Should -Throw -ErrorId 'PgSource.AuthenticationFailed,*'
    }

    It 'never shows the password in output, errors, verbose or debug text' {
        $password = Get-TestPassword
        $all = & {
            New-PgSource -Name "cred-$suffix" -Table "cred_orders_$suffix" -ConnectionString $noPassword -Credential $credential |
                Install-PgSourceTrigger -Confirm:$false -Verbose -Debug
            Get-PgSourceTrigger -ConnectionString $noPassword -Credential $credential -Name "cred-$suffix" -Debug |
                Uninstall-PgSourceTrigger -Confirm:$false -Verbose -Debug
            New-PgSource -Name "cred-$suffix" -Table nosuch -ConnectionString $noPassword -Credential $credential |
                Install-PgSourceTrigger -Confirm:$false -Verbose -Debug
            Test-PgSourceConnection -ConnectionString $noPassword -Credential $credential -Detailed -Verbose -Debug
        } *>&1 | Out-String -Width 4096
        $all | Should -Match 'SQL: '
        $all | Should -Not -Match ([regex]::Escape($password))
        Get-PgSourceTrigger -ConnectionString $noPassword -Credential $credential -Name "cred-$suffix" | Should -BeNullOrEmpty
    }
}

Describe 'Debug, confirmation and -PassThru' -Skip:$skip {
    BeforeAll {
        Invoke-TestSql "CREATE TABLE dbg_orders_$suffix (id int PRIMARY KEY)" | Out-Null
        $script:name = "dbg-$suffix"
    }

    AfterAll {
        New-PgSource -Name $name -Table "dbg_orders_$suffix" -ConnectionString $cs | Uninstall-PgSourceTrigger -Confirm:$false | Out-Null
        Invoke-TestSql "DROP TABLE IF EXISTS dbg_orders_$suffix" | Out-Null
    }

    It 'writes nothing with -PassThru when -WhatIf skips the change' {
        New-PgSource -Name $name -Table "dbg_orders_$suffix" -ConnectionString $cs | Install-PgSourceTrigger -PassThru -WhatIf | Should -BeNullOrEmpty
        Get-PgSourceTrigger -ConnectionString $cs -Name $name | Should -BeNullOrEmpty
    }

    It 'shows the SQL it runs with -Debug' {
        $debug = New-PgSource -Name $name -Table "dbg_orders_$suffix" -Mode Durable -ConnectionString $cs |
            Install-PgSourceTrigger -Confirm:$false -Debug 5>&1 | Where-Object { $_ -is [System.Management.Automation.DebugRecord] }
        ($debug.Message -join "`n") | Should -Match 'SQL: .*CREATE'
    }

    It 'asks before a mode switch drops the journal; -Confirm:$false does not' {
        Invoke-TestSql "INSERT INTO dbg_orders_$suffix VALUES (1)" | Out-Null
        # The prompt is a High-impact one: with $ConfirmPreference at High and no way to answer, it is an error.
        $skipped = New-PgSource -Name $name -Table "dbg_orders_$suffix" -Mode Notify -ConnectionString $cs |
            Install-PgSourceTrigger -SwitchMode -WhatIf
        $skipped.Status | Should -Be 'Skipped'
        (Get-PgSourceTrigger -ConnectionString $cs -Name $name).Mode | Should -Be 'Durable'
        $switched = New-PgSource -Name $name -Table "dbg_orders_$suffix" -Mode Notify -ConnectionString $cs |
            Install-PgSourceTrigger -SwitchMode -Confirm:$false -WarningAction SilentlyContinue
        $switched.Changed | Should -BeTrue
        (Get-PgSourceTrigger -ConnectionString $cs -Name $name).Mode | Should -Be 'Notify'
    }

    It 'declares ConfirmImpact High for uninstalling' {
        (Get-Command Uninstall-PgSourceTrigger).ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false).ConfirmImpact |
            Should -Be 'High'
    }
}

Describe 'Help links and manifest' {
    # Discovery runs before BeforeAll imports the module: the names come from the manifest.
    It 'has a HelpUri for <_> on the project docs' -ForEach @((Import-PowerShellDataFile (Join-Path $PSScriptRoot '../../PostgresSource.psd1')).CmdletsToExport) {
        $project = (Get-Module PostgresSource).PrivateData.PSData.ProjectUri
        (Get-Command $_).HelpUri | Should -Be ("$project/blob/main/docs/cmdlets.md#" + $_.ToLowerInvariant())
    }

    It 'names HelpInfoURI and, while unreleased, a Prerelease' {
        $module = Get-Module PostgresSource
        $module.HelpInfoUri | Should -BeLike "$($module.PrivateData.PSData.ProjectUri)/*"
        $changelog = Get-Content (Join-Path $PSScriptRoot '../../CHANGELOG.md') -Raw
        if ($changelog -match '(?m)^## \[[^\]]+\] - unreleased') {
            $module.PrivateData.PSData.Prerelease | Should -Match '^[A-Za-z0-9]+$'
        }
    }

    It 'takes -Credential on <_>' -ForEach @('Get-PgSourceTrigger', 'Install-PgSourceTrigger', 'Uninstall-PgSourceTrigger', 'Start-PgSourceListener', 'Test-PgSourceConnection', 'New-PgSource', 'Import-PgSource') {
        (Get-Command $_).Parameters['Credential'].ParameterType | Should -Be ([pscredential])
        (Get-Help $_ -Parameter ConnectionString).Description.Text -join ' ' | Should -Match 'discouraged'
    }
}
