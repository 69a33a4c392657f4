#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
<#
    The module as a user first meets it: import by name, help, install a source, capture, export, remove.
    Tagged Installed: it also runs against the copy installed from a local PSResourceGet repository.
    Needs PGSOURCE_TEST_CONNECTION (any form the module reads). Run: tests/pester/Invoke-PgSourcePester.ps1
#>

BeforeDiscovery {
    $script:skip = -not $env:PGSOURCE_TEST_CONNECTION
    $script:cmdlets = (Import-PowerShellDataFile (Join-Path $PSScriptRoot '../../PostgresSource.psd1')).CmdletsToExport
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestDatabase.psm1') -Force
    Import-Module PostgresSource
    $script:cs = $env:PGSOURCE_TEST_CONNECTION
}

Describe 'The PostgresSource module' -Tag Installed {
    It 'loads by name from where this run put it' {
        $module = Get-Module PostgresSource
        $module | Should -Not -BeNullOrEmpty
        $outFolder = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../out'))
        if ($env:PGSOURCE_TEST_MODULE_SOURCE -eq 'Installed') {
            $module.ModuleBase | Should -Not -BeLike "$outFolder*"
            (Get-InstalledPSResource -Name PostgresSource).InstalledLocation | Should -Not -BeNullOrEmpty
        }
        elseif ($env:PGSOURCE_TEST_MODULE_SOURCE -eq 'Build') {
            $module.ModuleBase | Should -BeLike "$outFolder*"
        }
    }

    It 'exports exactly the cmdlets in the manifest' {
        $exported = (Get-Command -Module PostgresSource).Name | Sort-Object
        $exported | Should -Be ($cmdlets | Sort-Object)
    }

    It 'has full help with at least two examples for <_>' -ForEach $cmdlets {
        $help = Get-Help $_ -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -Match '^\s*\S+\s*\[' # a real synopsis, not the generated syntax line
        @($help.Examples.Example).Count | Should -BeGreaterOrEqual 2
        (Get-Help $_ -Examples | Out-String) | Should -Match 'PS >|Example 1'
        foreach ($parameter in @($help.Parameters.Parameter | Where-Object Name -NotIn 'WhatIf', 'Confirm')) {
            "$($parameter.Description.Text)" | Should -Not -BeNullOrEmpty -Because "-$($parameter.Name) of $_ needs a description"
        }
    }

    It 'has the about topic' {
        $about = Get-Help about_PostgresSource | Out-String
        $about | Should -Match 'PgSource\.'
        $about | Should -Match 'Durable'
    }
}

Describe 'Installing and removing a source' -Tag Installed -Skip:$skip {
    BeforeAll {
        $script:table = New-TestName pester_orders
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
        $password = Get-TestPassword
        if ($password) { ($sql -join "`n") | Should -Not -Match ([regex]::Escape($password)) }
    }

    It 'tests the connection' {
        Test-PgSourceConnection -ConnectionString $cs | Should -BeTrue
    }
}

Describe 'Capturing changes' -Tag Installed -Skip:$skip {
    BeforeAll {
        $script:table = New-TestName pester_items
        Invoke-TestSql "CREATE TABLE $table (id int PRIMARY KEY, qty int)" | Out-Null
        $script:source = New-PgSource -Name ($table -replace '_', '-') -Table $table -Mode Durable -ConnectionString $cs
    }

    AfterAll {
        $script:source | Uninstall-PgSourceTrigger -Confirm:$false | Out-Null
        Invoke-TestSql "DROP TABLE IF EXISTS $table" | Out-Null
    }

    It 'installs once, and a second install changes nothing' {
        ($source | Install-PgSourceTrigger -Confirm:$false).Status | Should -Be 'Installed'
        ($source | Install-PgSourceTrigger -Confirm:$false).Status | Should -Be 'Unchanged'
    }

    It 'delivers inserts, updates and deletes as events' {
        Invoke-TestSql "INSERT INTO $table VALUES (1, 5); UPDATE $table SET qty = 6 WHERE id = 1; DELETE FROM $table WHERE id = 1" | Out-Null
        $events = @($source | Start-PgSourceListener -MaxEvents 3 -Timeout 15)
        $events.Operation | Should -Be @('INSERT', 'UPDATE', 'DELETE')
        $events[1].Data.qty | Should -Be 6
        $events | ForEach-Object { $_.Type | Should -Be 'dev.vaikas.postgres' }
    }

    It 'exports Kubernetes YAML without the password' {
        $sink = 'http://broker-ingress.knative-eventing.svc.cluster.local/default/default'
        $yaml = $source | Export-PgSourceManifest -IncludeCrd -SinkUri $sink -IncludeSecret:$false | Out-String
        $yaml | Should -Match 'kind: Deployment'
        $yaml | Should -Match 'kind: CustomResourceDefinition'
        $yaml | Should -Match 'sources.vaikas.dev'
        # Made without -Sink: the export's -SinkUri becomes spec.sink.uri and the Deployment's K_SINK.
        $yaml | Should -Match ("uri: " + [regex]::Escape($sink))
        $password = Get-TestPassword
        if ($password) { $yaml | Should -Not -Match ([regex]::Escape($password)) }
    }

    It 'uninstalls without a trace' {
        ($source | Uninstall-PgSourceTrigger -Confirm:$false).Status | Should -Be 'Removed'
        Get-PgSourceTrigger -ConnectionString $cs -Name $source.Name | Should -BeNullOrEmpty
    }
}

Describe 'Filtering what a table sends' -Tag Installed -Skip:$skip {
    BeforeAll {
        $script:table = New-TestName pester_people
        Invoke-TestSql "CREATE TABLE $table (id int PRIMARY KEY, qty int, email text, secret text)" | Out-Null
        $filter = @{ Table = $table; Operation = 'Insert', 'Update'; ExcludeColumn = 'secret'; MaskColumn = 'email'; Mask = 'Hash'; Where = 'qty > 0' }
        $script:source = New-PgSource -Name ($table -replace '_', '-') -Table $table -Mode Durable -ConnectionString $cs -TableFilter $filter
    }

    AfterAll {
        $script:source | Uninstall-PgSourceTrigger -Confirm:$false | Out-Null
        Invoke-TestSql "DROP TABLE IF EXISTS $table" | Out-Null
    }

    It 'takes the filter as a hashtable and shows it on the source' {
        $source.TableFilters.Count | Should -Be 1
        $source.TableFilters[0].Where | Should -Be 'qty > 0'
        $source.TableFilters[0].Operation | Should -Be @('Insert', 'Update')
        "$($source.TableFilters[0])" | Should -Be 'insert,update; columns -secret; mask email (hash); where qty > 0'
    }

    It 'refuses an operation that does not exist, naming it, and makes no source' {
        $made = New-PgSource -Name bad-filter -Table $table -TableFilter @{ Table = $table; Operation = 'Upsert' } -ErrorAction SilentlyContinue -ErrorVariable failures
        $made | Should -BeNullOrEmpty
        "$($failures[0])" | Should -Match 'Upsert'
    }

    It 'installs the filter, idempotently, and Get-PgSourceTrigger shows it in force' {
        ($source | Install-PgSourceTrigger -Confirm:$false).Status | Should -Be 'Installed'
        ($source | Install-PgSourceTrigger -Confirm:$false).Status | Should -Be 'Unchanged'
        $found = Get-PgSourceTrigger -ConnectionString $cs -Name $source.Name
        $found.Filter.Where | Should -Be 'qty > 0'
        $found.Filter.ExcludeColumn | Should -Be 'secret'
        $found.Operations | Should -Be @('INSERT', 'UPDATE')
    }

    It 'sends only the rows and columns the filter lets through' {
        Invoke-TestSql "INSERT INTO $table VALUES (1, 0, 'a@x', 's1'), (2, 5, 'b@x', 's2'); DELETE FROM $table WHERE id = 2" | Out-Null
        $events = @($source | Start-PgSourceListener -MaxEvents 1 -Timeout 15)
        $events.Count | Should -Be 1
        $events[0].Data.id | Should -Be 2
        $events[0].Data.PSObject.Properties.Name | Should -Not -Contain 'secret'
        $events[0].Data.email | Should -Match '^[0-9a-f]{64}$'
    }

    It 'round-trips the filter through Export-PgSourceManifest and Import-PgSource' {
        $file = Join-Path $TestDrive 'filtered.yaml'
        $source | Export-PgSourceManifest -Path $file -SinkUri http://receiver.default.svc.cluster.local/events -IncludeSecret:$false -Confirm:$false | Out-Null
        $yaml = Get-Content $file -Raw
        $yaml | Should -Match 'where: qty > 0'
        $imported = Import-PgSource $file
        "$($imported.TableFilters[0])" | Should -Be "$($source.TableFilters[0])"
    }

    It 'reinstalls a changed filter, and -WhatIf changes nothing' {
        $changed = New-PgSource -Name $source.Name -Table $table -Mode Durable -ConnectionString $cs -TableFilter @{ Table = $table; Where = 'qty > 10' }
        $changed | Install-PgSourceTrigger -WhatIf | Out-Null
        (Get-PgSourceTrigger -ConnectionString $cs -Name $source.Name).Filter.Where | Should -Be 'qty > 0'
        ($changed | Install-PgSourceTrigger -Confirm:$false).Status | Should -Not -Be 'Unchanged'
        $found = Get-PgSourceTrigger -ConnectionString $cs -Name $source.Name
        $found.Filter.Where | Should -Be 'qty > 10'
        $found.Operations | Should -Be @('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')
    }
}

Describe 'Backfilling a running source' -Tag Installed -Skip:$skip {
    BeforeAll {
        $script:table = New-TestName pester_stock
        Invoke-TestSql "CREATE TABLE $table (id int PRIMARY KEY, qty int); INSERT INTO $table SELECT g, g FROM generate_series(1, 5) g" | Out-Null
        $script:source = New-PgSource -Name ($table -replace '_', '-') -Table $table -Mode Durable -ConnectionString $cs
        $source | Install-PgSourceTrigger -Confirm:$false | Out-Null
    }

    AfterAll {
        $script:source | Uninstall-PgSourceTrigger -Confirm:$false | Out-Null
        Invoke-TestSql "DROP TABLE IF EXISTS $table" | Out-Null
    }

    It 'asks for nothing with -WhatIf' {
        $source | Start-PgSourceSnapshot -WhatIf | Should -BeNullOrEmpty
        Invoke-TestSql "SELECT count(*) FROM `"$($source.ObjectName)`".snapshot" | Should -Be 0
    }

    It 'records the request, and the listener sends every row as a read event' {
        $request = $source | Start-PgSourceSnapshot -Confirm:$false
        $request.Tables | Should -Be "public.$table"
        $events = @($source | Start-PgSourceListener -MaxEvents 5 -Timeout 20)
        $events.Operation | Sort-Object -Unique | Should -Be 'READ'
        ($events.Data.id | Sort-Object) | Should -Be @(1, 2, 3, 4, 5)
    }

    It 'refuses a Notify source with PgSource.NotSupported, and a table the source does not capture' {
        $notify = New-PgSource -Name ($table -replace '_', '-') -Table $table -ConnectionString $cs
        $notify | Start-PgSourceSnapshot -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable failures | Should -BeNullOrEmpty
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'PgSource.NotSupported,*'
        $source | Start-PgSourceSnapshot -Table other_table -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable failures2 | Should -BeNullOrEmpty
        $failures2[0].FullyQualifiedErrorId | Should -BeLike 'PgSource.InvalidSource,*'
    }
}

Describe 'Export-PgSourceManifest -Controller' -Tag Installed {
    It 'writes exactly deploy/controller.yaml, the file users kubectl apply' {
        $checkedIn = Get-Content -Raw (Join-Path $PSScriptRoot '../../deploy/controller.yaml')
        $file = Join-Path ([IO.Path]::GetTempPath()) "pgsource-controller-$([guid]::NewGuid().ToString('N')).yaml"
        try {
            Export-PgSourceManifest -Controller -Path $file -Confirm:$false | Should -BeOfType ([IO.FileInfo])
            Get-Content -Raw $file | Should -BeExactly $checkedIn -Because 'regenerate with: ./build.ps1 -Task Manifests (see docs/controller-install.md)'
        }
        finally {
            Remove-Item $file -ErrorAction SilentlyContinue
        }
        (Export-PgSourceManifest -Controller -ControllerImage example.test/c:1) | Should -Match 'image: example\.test/c:1'
    }
}
