#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
<#
    Every cmdlet, driven the way users write scripts: pipelines from New-PgSource and Import-PgSource through Install,
    Start, Export and Sync (against the in-process Kubernetes API server), -WhatIf and -Confirm, error ids caught under
    -ErrorAction Stop, runbook style with $ErrorActionPreference = 'Stop', what Format-Table shows, completion through
    TabExpansion2. Needs PGSOURCE_TEST_CONNECTION (any form) and, for Sync, PGSOURCE_TEST_KUBECONFIG.
#>

BeforeDiscovery {
    $script:skip = -not $env:PGSOURCE_TEST_CONNECTION
    $script:noCluster = -not $env:PGSOURCE_TEST_KUBECONFIG -or $skip
    Import-Module (Join-Path $PSScriptRoot 'TestDatabase.psm1') -Force
    $script:noTestPassword = $skip -or -not (Get-TestPassword)
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestDatabase.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'TestProcess.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'TestManifests.psm1') -Force
    Import-Module PostgresSource
    $script:work = Join-Path ([IO.Path]::GetTempPath()) (New-TestName pgsource_acceptance)
    New-Item -ItemType Directory $work | Out-Null
    if (-not $env:PGSOURCE_TEST_CONNECTION) { return }
    $script:dbName = New-TestName acc
    $script:db = New-TestDatabase $dbName
    Invoke-TestSql 'CREATE TABLE orders (id int PRIMARY KEY, item text, qty int); CREATE TABLE "Order Lines" (id int PRIMARY KEY, sku text)' -ConnectionString $db | Out-Null

}

AfterAll {
    if ($script:dbName) { Remove-TestDatabase $dbName }
    if ($script:work) { Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue }
}

Describe 'New-PgSource | Install-PgSourceTrigger | Start-PgSourceListener, in each durable mode' -Tag Installed -Skip:$skip {
    It 'delivers the changes as events in <_> mode, then uninstalls' -ForEach @('Durable', 'Logical') {
        $mode = $_
        $name = "acc-$($mode.ToLowerInvariant())"
        $installed = New-PgSource -Name $name -Table orders -Mode $mode -ConnectionString $db |
            Install-PgSourceTrigger -Confirm:$false -PassThru
        $installed | Should -BeOfType 'PostgresSource.PowerShell.PgSource'
        $installed.Mode | Should -Be $mode
        $id = Get-Random -Minimum 1000 -Maximum 100000
        Invoke-TestSql "INSERT INTO orders VALUES ($id, 'tea', 1); UPDATE orders SET qty = 2 WHERE id = $id; DELETE FROM orders WHERE id = $id" -ConnectionString $db | Out-Null

        $events = @($installed | Start-PgSourceListener -MaxEvents 3 -Timeout 30)

        $events.Operation | Should -Be @('INSERT', 'UPDATE', 'DELETE')
        $events[0].Data.item | Should -Be 'tea'
        $events[1].Data.qty | Should -Be 2
        $events[0].Subject | Should -Be 'public.orders'
        @($events.Id | Sort-Object -Unique).Count | Should -Be 3
        (Get-PgSourceTrigger -ConnectionString $db -Name $name).Mode | Should -Be $mode
        ($installed | Uninstall-PgSourceTrigger -Confirm:$false).Status | Should -Be 'Removed'
        Get-PgSourceTrigger -ConnectionString $db -Name $name | Should -BeNullOrEmpty
    }

    It 'quotes a table name with a space, and shows it back as written' {
        $result = New-PgSource -Name acc-lines -Table '"Order Lines"' -ConnectionString $db | Install-PgSourceTrigger -Confirm:$false
        $result.Status | Should -Be 'Installed'
        (Get-PgSourceTrigger -ConnectionString $db -Name acc-lines).Table | Should -Contain 'Order Lines'
        Get-PgSourceTrigger -ConnectionString $db -Name acc-lines | Uninstall-PgSourceTrigger -Confirm:$false | Out-Null
    }
}

Describe 'Import-PgSource | Install-PgSourceTrigger | Export-PgSourceManifest' -Tag Installed -Skip:$skip {
    BeforeAll {
        $script:folder = Join-Path $work 'yaml'
        New-Item -ItemType Directory $folder | Out-Null
        Set-Content (Join-Path $folder 'orders.yaml') (Get-SourceYaml -Name orders -Namespace shop -Table orders -SinkUri http://receiver.shop.svc.cluster.local/events)
        Set-Content (Join-Path $folder 'lines.yaml') (Get-SourceYaml -Name lines -Namespace shop -Table '"Order Lines"' -SinkUri http://receiver.shop.svc.cluster.local/events)
    }

    It 'installs every file of a folder, piped from Get-ChildItem' {
        $results = Get-ChildItem $folder -Filter *.yaml | Import-PgSource -ConnectionString $db | Install-PgSourceTrigger -Confirm:$false
        $results.Source | Sort-Object | Should -Be @('shop/lines', 'shop/orders')
        $results.Status | Sort-Object -Unique | Should -Be 'Installed'
        $results | ForEach-Object { $_.Connection.Database | Should -Be $dbName }
    }

    It 'is idempotent: the same pipeline again reports Unchanged' {
        (Get-ChildItem $folder -Filter *.yaml | Import-PgSource -ConnectionString $db | Install-PgSourceTrigger -Confirm:$false).Status |
            Sort-Object -Unique | Should -Be 'Unchanged'
    }

    It 'exports a manifest file, and refuses to overwrite it without -Force' {
        $file = Join-Path $work 'export.yaml'
        $written = Get-ChildItem $folder -Filter *.yaml | Import-PgSource | Export-PgSourceManifest -Path $file -Confirm:$false
        $written | Should -BeOfType ([IO.FileInfo])
        $yaml = Get-Content $file -Raw
        ([regex]::Matches($yaml, '(?m)^kind: PostgresSource')).Count | Should -Be 2
        $yaml | Should -Match 'http://receiver\.shop\.svc\.cluster\.local/events'
        Assert-NoPassword $yaml

        { Import-PgSource (Join-Path $folder 'orders.yaml') | Export-PgSourceManifest -Path $file -ErrorAction Stop } |
            Should -Throw -ErrorId 'PgSource.FileExists,*'
        Import-PgSource (Join-Path $folder 'orders.yaml') | Export-PgSourceManifest -Path $file -Force -Confirm:$false | Out-Null
        ([regex]::Matches((Get-Content $file -Raw), '(?m)^kind: PostgresSource')).Count | Should -Be 1
    }

    It 'writes nothing with -WhatIf' {
        $file = Join-Path $work 'whatif.yaml'
        Import-PgSource (Join-Path $folder 'orders.yaml') | Export-PgSourceManifest -Path $file -WhatIf
        Test-Path $file | Should -BeFalse
    }

    It 'removes what it installed, piped from Get-PgSourceTrigger' {
        (Get-PgSourceTrigger -ConnectionString $db | Where-Object SourceName -In 'orders', 'lines' | Uninstall-PgSourceTrigger -Confirm:$false).Status |
            Sort-Object -Unique | Should -Be 'Removed'
        Get-PgSourceTrigger -ConnectionString $db | Where-Object SourceName -In 'orders', 'lines' | Should -BeNullOrEmpty
    }
}

Describe 'Import-PgSource | Sync-PgSourceCluster against the API server' -Tag Installed -Skip:$noCluster {
    BeforeAll {
        $script:seed = Join-Path $work 'sync.yaml'
        $script:syncName = (New-TestName sync) -replace '_', '-'
        Set-Content $seed (Get-SourceYaml -Name $syncName -Namespace shop -Table orders -SinkUri http://receiver.shop.svc.cluster.local/events)
        $script:kc = $env:PGSOURCE_TEST_KUBECONFIG
    }

    It 'shows the plan with -WhatIf and writes nothing' {
        # What-if lines go to the host, not to a stream: a pwsh of its own shows them on its output.
        $script = Join-Path $work 'sync-whatif.ps1'
        Set-Content $script "Import-Module PostgresSource; Import-PgSource '$seed' | Sync-PgSourceCluster -Kubeconfig '$kc' -WhatIf"
        $first = Invoke-Pwsh -File $script
        $first.ExitCode | Should -Be 0 -Because $first.Output
        $first.Output | Should -Match "What if: .*$syncName"
        $again = Invoke-Pwsh -File $script
        $again.Output | Should -Match "What if: .*Deployment" -Because 'nothing was created by the first -WhatIf'
    }

    It 'creates the resource, its RBAC and Deployment, and sets status' {
        $changes = @(Import-PgSource $seed | Sync-PgSourceCluster -Kubeconfig $kc -Confirm:$false)
        ($changes | Where-Object Action -EQ 'Created').Kind | Should -Contain 'Deployment'
        ($changes | Where-Object Action -EQ 'Created').Kind | Should -Contain 'PostgresSource'
        $changes | Where-Object Subresource -EQ 'status' | Should -Not -BeNullOrEmpty
        ($changes | Format-Table | Out-String) | Should -Match 'Action\s+Kind'
    }

    It 'changes nothing the second time' {
        @(Import-PgSource $seed | Sync-PgSourceCluster -Kubeconfig $kc -Confirm:$false | Where-Object Changed) | Should -BeNullOrEmpty
    }

    It 'fails with PgSource.KubeconfigInvalid for a kubeconfig that is not one' {
        $bad = Join-Path $work 'not-a-kubeconfig'
        Set-Content $bad 'this: [is not'
        { Import-PgSource $seed | Sync-PgSourceCluster -Kubeconfig $bad -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'PgSource.KubeconfigInvalid,*'
    }
}

Describe '-WhatIf and -Confirm' -Tag Installed -Skip:$skip {
    BeforeAll {
        $script:source = New-PgSource -Name acc-confirm -Table orders -Mode Durable -ConnectionString $db
    }
    AfterAll { $source | Uninstall-PgSourceTrigger -Confirm:$false | Out-Null }

    It 'Install -WhatIf says what it would do and changes nothing' {
        $result = $source | Install-PgSourceTrigger -WhatIf
        $result.Status | Should -Be 'Skipped'
        ($result.Changes -join '; ') | Should -Match 'create function'
        Get-PgSourceTrigger -ConnectionString $db -Name acc-confirm | Should -BeNullOrEmpty
    }

    It 'Uninstall -WhatIf leaves the source in place' {
        $source | Install-PgSourceTrigger -Confirm:$false | Out-Null
        $source | Uninstall-PgSourceTrigger -WhatIf | Out-Null
        Get-PgSourceTrigger -ConnectionString $db -Name acc-confirm | Should -Not -BeNullOrEmpty
    }

    It 'asks before uninstalling (High impact): a pwsh that cannot ask removes nothing' {
        $script = Join-Path $work 'uninstall-unconfirmed.ps1'
        Set-Content $script "Import-Module PostgresSource; New-PgSource -Name acc-confirm -Table orders -Mode Durable | Uninstall-PgSourceTrigger"
        $run = Invoke-Pwsh -File $script -Environment @{ PGSOURCE_CONNECTION = $db }
        $run.Output | Should -Match 'NonInteractive|prompt|confirm'
        Get-PgSourceTrigger -ConnectionString $db -Name acc-confirm | Should -Not -BeNullOrEmpty
        Assert-NoPassword $run.Output
    }

    It 'asks before installing too when $ConfirmPreference is Low' {
        $script = Join-Path $work 'install-confirm-low.ps1'
        Set-Content $script "`$ConfirmPreference = 'Low'; Import-Module PostgresSource; New-PgSource -Name acc-confirm-low -Table orders | Install-PgSourceTrigger"
        $run = Invoke-Pwsh -File $script -Environment @{ PGSOURCE_CONNECTION = $db }
        $run.Output | Should -Match 'NonInteractive|prompt|confirm'
        Get-PgSourceTrigger -ConnectionString $db -Name acc-confirm-low | Should -BeNullOrEmpty
    }
}

Describe 'Errors users catch' -Tag Installed -Skip:$skip {
    It 'a missing table: <_> under -ErrorAction Stop in try/catch' -ForEach @('PgSource.TableNotFound') {
        $expected = $_
        $caught = $null
        try {
            New-PgSource -Name acc-missing -Table no_such_table -ConnectionString $db | Install-PgSourceTrigger -Confirm:$false -ErrorAction Stop
        }
        catch {
            $caught = $_
        }
        $caught | Should -Not -BeNullOrEmpty
        $caught.FullyQualifiedErrorId | Should -BeLike "$expected,*"
        $caught.CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $caught.Exception.Message | Should -Match 'no_such_table'
        Get-PgSourceTrigger -ConnectionString $db -Name acc-missing | Should -BeNullOrEmpty
    }

    It 'an invalid source name is PgSource.InvalidSource and names the rule' {
        { New-PgSource -Name 'Not A DNS Name' -Table orders -ErrorAction Stop } | Should -Throw -ErrorId 'PgSource.InvalidSource,*'
    }

    It 'a wrong password is PgSource.AuthenticationFailed, and the message does not show it' -Skip:$noTestPassword {
        $wrong = (Remove-TestPassword $db)
        $wrong = if ($wrong -match '^[a-z]+://') { $wrong -replace '://([^@/]+)@', '://$1:WrongPass123@' } elseif ($wrong -match ';') { "$wrong;Password=WrongPass123" } else { "$wrong password=WrongPass123" }
        $caught = $null
        try { Get-PgSourceTrigger -ConnectionString $wrong -ErrorAction Stop } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -BeLike 'PgSource.AuthenticationFailed,*'
        "$($caught.Exception.Message) $($caught.TargetObject)" | Should -Not -Match 'WrongPass123'
    }

    It 'a server that does not answer is PgSource.ConnectionFailed' {
        $closed = Set-TestDatabaseName -ConnectionString 'Host=127.0.0.1;Port=1;Username=nobody;Timeout=2' -Name $dbName
        { Get-PgSourceTrigger -ConnectionString $closed -ErrorAction Stop } | Should -Throw -ErrorId 'PgSource.ConnectionFailed,*'
    }

    It 'a YAML file that is not there is PgSource.ManifestNotFound' {
        { Import-PgSource -Path (Join-Path $work 'nope.yaml') -ErrorAction Stop } | Should -Throw -ErrorId 'PgSource.ManifestNotFound,*'
    }

    It 'runbook style: with $ErrorActionPreference = Stop the first failure ends the script' {
        $script = Join-Path $work 'runbook-stop.ps1'
        Set-Content $script @'
$ErrorActionPreference = 'Stop'
Import-Module PostgresSource
try {
    New-PgSource -Name acc-runbook -Table orders | Install-PgSourceTrigger -Confirm:$false | Out-Null
    'installed first'
    New-PgSource -Name acc-runbook-2 -Table no_such_table | Install-PgSourceTrigger -Confirm:$false | Out-Null
    'never printed'
}
catch {
    "caught $($_.FullyQualifiedErrorId)"
    exit 3
}
finally {
    New-PgSource -Name acc-runbook -Table orders | Uninstall-PgSourceTrigger -Confirm:$false | Out-Null
}
'@
        $run = Invoke-Pwsh -File $script -Environment @{ PGSOURCE_CONNECTION = $db }
        $run.ExitCode | Should -Be 3 -Because $run.Output
        $run.Output | Should -Match 'installed first'
        $run.Output | Should -Match 'caught PgSource\.TableNotFound,'
        $run.Output | Should -Not -Match 'never printed'
        Get-PgSourceTrigger -ConnectionString $db | Where-Object SourceName -Like 'acc-runbook*' | Should -BeNullOrEmpty
    }
}

Describe 'What users see' -Tag Installed -Skip:$skip {
    BeforeAll {
        $script:shown = New-PgSource -Name acc-view -Table orders -Mode Durable -ConnectionString $db
        $shown | Install-PgSourceTrigger -Confirm:$false | Out-Null
    }
    AfterAll { $shown | Uninstall-PgSourceTrigger -Confirm:$false | Out-Null }

    It 'Format-Table of a source shows its columns and a masked connection' {
        $text = $shown | Format-Table | Out-String -Width 300
        $text | Should -Match 'Name\s+Namespace\s+Mode\s+Tables'
        $text | Should -Match 'acc-view'
        Assert-NoPassword $text
        Assert-NoPassword ($shown | Format-List * | Out-String -Width 300)
        Assert-NoPassword ($shown | ConvertTo-Json -Depth 4 -WarningAction SilentlyContinue)
    }

    It 'Get-PgSourceTrigger shows mode, table, backlog and database by default' {
        $text = Get-PgSourceTrigger -ConnectionString $db -Name acc-view | Out-String -Width 300
        $text | Should -Match 'SourceName\s+Mode'
        $text | Should -Match 'Backlog'
        $text | Should -Match 'Durable'
        $text | Should -Match $dbName
        Assert-NoPassword $text
    }

    It 'Test-PgSourceConnection -Detailed shows server, user and wal_level, password masked' {
        $test = Test-PgSourceConnection -ConnectionString $db -Detailed
        $test.Success | Should -BeTrue
        $test.ServerVersion | Should -Not -BeNullOrEmpty
        $test.WalLevel | Should -Not -BeNullOrEmpty
        $text = $test | Format-List * | Out-String -Width 300
        $text | Should -Match 'WalLevel'
        Assert-NoPassword $text
    }

    It 'Test-PgSourceConnection -Detailed lists the privileges per mode, and names a missing table' {
        $test = Test-PgSourceConnection -ConnectionString $db -Detailed -Mode Notify, Durable -Table orders, no_such_table
        @($test.Privileges.Mode | Sort-Object -Unique) | Should -Be @('Notify', 'Durable')
        ($test.Privileges | Where-Object { $_.Mode -eq 'Durable' -and $_.Purpose -eq 'Install' -and $_.Privilege -eq 'CREATE' }).Granted | Should -BeTrue
        $test.MissingPrivileges | Should -Match 'no_such_table'
        $test.ReadyModes | Should -BeNullOrEmpty -Because 'a listed table is missing in both modes'
        $ok = Test-PgSourceConnection -ConnectionString $db -Detailed -Mode Durable -Table orders
        $ok.ReadyModes | Should -Be 'Durable'
        ($ok.Privileges | Format-Table | Out-String -Width 300) | Should -Match 'Mode\s+Purpose\s+Granted\s+Privilege'
    }

    It 'events show as a table of time, operation, subject and data' {
        Invoke-TestSql "INSERT INTO orders VALUES (99001, 'view', 1)" -ConnectionString $db | Out-Null
        $text = $shown | Start-PgSourceListener -MaxEvents 1 -Timeout 20 | Format-Table | Out-String -Width 300
        $text | Should -Match 'Operation\s+Subject'
        $text | Should -Match 'INSERT\s+public\.orders'
    }
}

Describe 'Completion through TabExpansion2' -Tag Installed -Skip:$skip {
    BeforeAll {
        New-PgSource -Name acc-complete -Table orders -ConnectionString $db | Install-PgSourceTrigger -Confirm:$false | Out-Null
        $script:quoted = "'" + ($db -replace "'", "''") + "'"
    }
    AfterAll { Get-PgSourceTrigger -ConnectionString $db -Name acc-complete | Uninstall-PgSourceTrigger -Confirm:$false | Out-Null }

    It 'completes -Table from the database, quoting a name with a space' {
        $line = "New-PgSource -Name x -ConnectionString $quoted -Table Ord"
        $completions = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText
        $completions | Should -Contain "'""Order Lines""'"
    }

    It 'completes -Name of Get-PgSourceTrigger with the installed sources' {
        $line = "Get-PgSourceTrigger -ConnectionString $quoted -Name acc-c"
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain 'acc-complete'
    }

    It 'completes -Mode with the capture modes' {
        $line = 'New-PgSource -Mode '
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be @('Durable', 'Logical', 'Notify')
    }

    It 'completes -Context of Sync-PgSourceCluster from the kubeconfig' -Skip:(-not $env:PGSOURCE_TEST_KUBECONFIG) {
        $line = "Sync-PgSourceCluster -Kubeconfig '$($env:PGSOURCE_TEST_KUBECONFIG)' -Context "
        (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Contain 'fake'
    }
}
