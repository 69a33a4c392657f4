#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
<#
    Every script in examples/ runs against the throwaway database (and the in-process API server), each in a pwsh of
    its own with the module imported by name, exactly as a user runs it; the test then checks what it did.
    Tagged Installed: the examples also run against the module installed from a repository.
#>

BeforeDiscovery {
    $script:skip = -not $env:PGSOURCE_TEST_CONNECTION
    $script:noCluster = -not $env:PGSOURCE_TEST_KUBECONFIG
    $examples = Join-Path $PSScriptRoot '../../examples'
    # A new example without a test here fails this list, so none is left unexercised.
    $script:exampleFiles = @(Get-ChildItem $examples -Recurse -File -Include *.ps1 | ForEach-Object { [IO.Path]::GetRelativePath($examples, $_.FullName) -replace '\\', '/' } | Sort-Object)
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestDatabase.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'TestProcess.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'TestManifests.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../../examples/Demo/Psql.psm1') -Force
    Import-Module PostgresSource
    $script:examples = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../../examples'))
    $script:cs = $env:PGSOURCE_TEST_CONNECTION
    $script:work = Join-Path ([IO.Path]::GetTempPath()) (New-TestName pgsource_examples)
    New-Item -ItemType Directory $work | Out-Null

}

AfterAll {
    Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'The examples folder' -Tag Installed {
    It 'has a test for every script: <_>' -ForEach $exampleFiles {
        $tested = @('quickstart.ps1', 'runbook-setup.ps1', 'gitops-export.ps1', 'migrate-from-seed.ps1', 'app-writes.Tests.ps1', 'Demo/demo.ps1')
        $_ | Should -BeIn $tested
    }
}

Describe 'examples/quickstart.ps1' -Tag Installed -Skip:$skip {
    BeforeAll {
        $script:dbName = New-TestName ex_quick
        $script:db = New-TestDatabase $dbName
        Invoke-TestSql 'CREATE TABLE orders (id int PRIMARY KEY, item text)' -ConnectionString $db | Out-Null
        $script:run = Invoke-Pwsh -File (Join-Path $examples 'quickstart.ps1') -ArgumentList '-ConnectionString', $db
    }
    AfterAll { Remove-TestDatabase $dbName }

    It 'runs to the end' {
        $run.ExitCode | Should -Be 0 -Because $run.Output
    }

    It 'shows the script, installs, lists and removes the source' {
        $run.Output | Should -Match 'CREATE TRIGGER'
        $run.Output | Should -Match 'Installed'
        $run.Output | Should -Match 'Removed'
        Get-PgSourceTrigger -ConnectionString $db | Should -BeNullOrEmpty
        Assert-NoPassword $run.Output
    }
}

Describe 'examples/runbook-setup.ps1' -Tag Installed -Skip:$skip {
    BeforeAll {
        $script:dbName = New-TestName ex_runbook
        $script:db = New-TestDatabase $dbName
        Invoke-TestSql 'CREATE TABLE orders (id int PRIMARY KEY); CREATE TABLE invoices (id int PRIMARY KEY)' -ConnectionString $db | Out-Null
        $sources = Join-Path $work 'runbook'
        New-Item -ItemType Directory $sources | Out-Null
        foreach ($pair in @(@('orders', 'orders'), @('invoices', 'invoices'), @('lost', 'no_such_table'))) {
            Set-Content (Join-Path $sources "$($pair[0]).yaml") (Get-SourceYaml -Name $pair[0] -Namespace shop -Table $pair[1] -SinkUri http://receiver.shop.svc.cluster.local/)
        }
        $script:first = Invoke-Pwsh -File (Join-Path $examples 'runbook-setup.ps1') -ArgumentList '-SourceFolder', $sources -Environment @{ PGSOURCE_CONNECTION = $db }
        $script:second = Invoke-Pwsh -File (Join-Path $examples 'runbook-setup.ps1') -ArgumentList '-SourceFolder', $sources -Environment @{ PGSOURCE_CONNECTION = $db }
        $script:unset = Invoke-Pwsh -File (Join-Path $examples 'runbook-setup.ps1') -ArgumentList '-SourceFolder', $sources
    }
    AfterAll { Remove-TestDatabase $dbName }

    It 'installs the sources whose tables exist and skips the one whose table is missing' {
        $first.ExitCode | Should -Be 0 -Because $first.Output
        $first.Output | Should -Match 'shop/orders: Installed'
        $first.Output | Should -Match 'shop/invoices: Installed'
        $first.Output | Should -Match 'Skipped .*lost.*a table is missing'
        @(Get-PgSourceTrigger -ConnectionString $db).SourceName | Sort-Object -Unique | Should -Be @('invoices', 'orders')
    }

    It 'changes nothing on the second run (idempotent, safe on a schedule)' {
        $second.ExitCode | Should -Be 0 -Because $second.Output
        $second.Output | Should -Match 'shop/orders: Unchanged'
        $second.Output | Should -Not -Match ': Installed'
        Assert-NoPassword ($first.Output + $second.Output)
    }

    It 'stops with its message when PGSOURCE_CONNECTION is not set' {
        $unset.ExitCode | Should -Not -Be 0
        $unset.Output | Should -Match 'Set PGSOURCE_CONNECTION'
    }
}

Describe 'examples/gitops-export.ps1' -Tag Installed {
    BeforeAll {
        $sources = Join-Path $work 'gitops-in'
        $script:gitops = Join-Path $work 'gitops-out'
        New-Item -ItemType Directory $sources, $gitops | Out-Null
        # The seed README's Secret and source, in one file: the Secret is skipped (with a warning), never exported.
        Set-Content (Join-Path $sources 'seed.yaml') (Get-SourceYaml -Name vaikaspostgres -WithSeedSecret)
        $script:run = Invoke-Pwsh -File (Join-Path $examples 'gitops-export.ps1') -ArgumentList '-SourcePath', $sources, '-OutputPath', $gitops, '-Namespace', 'shop'
    }

    It 'writes cluster.yaml, sources.yaml and kustomization.yaml' {
        $run.ExitCode | Should -Be 0 -Because $run.Output
        (Get-ChildItem $gitops).Name | Sort-Object | Should -Be @('cluster.yaml', 'kustomization.yaml', 'sources.yaml')
        Get-Content (Join-Path $gitops 'cluster.yaml') -Raw | Should -Match 'kind: CustomResourceDefinition'
        Get-Content (Join-Path $gitops 'kustomization.yaml') -Raw | Should -Match '- sources.yaml'
    }

    It 'puts the source into the namespace, with its Deployment and no password' {
        $yaml = Get-Content (Join-Path $gitops 'sources.yaml') -Raw
        $yaml | Should -Match 'kind: PostgresSource'
        $yaml | Should -Match 'kind: Deployment'
        $yaml | Should -Match 'namespace: shop'
        $yaml | Should -Match 'broker-ingress\.knative-eventing\.svc\.cluster\.local/shop/default'
        $yaml | Should -Not -Match 'really'
    }
}

Describe 'examples/migrate-from-seed.ps1' -Tag Installed -Skip:$noCluster {
    BeforeAll {
        $script:seed = Join-Path $work 'seed-migrate.yaml'
        $name = (New-TestName seed) -replace '_', '-'
        $script:name = $name
        Set-Content $seed (Get-SourceYaml -Name $name -BrokerApiVersion eventing.knative.dev/v1beta1 -WithSeedSecret)
        $arguments = '-Path', $seed, '-Kubeconfig', $env:PGSOURCE_TEST_KUBECONFIG
        $script:preview = Invoke-Pwsh -File (Join-Path $examples 'migrate-from-seed.ps1') -ArgumentList ($arguments + '-Preview')
        $script:apply = Invoke-Pwsh -File (Join-Path $examples 'migrate-from-seed.ps1') -ArgumentList $arguments
        $script:again = Invoke-Pwsh -File (Join-Path $examples 'migrate-from-seed.ps1') -ArgumentList $arguments
    }

    It 'previews without writing' {
        $preview.ExitCode | Should -Be 0 -Because $preview.Output
        $preview.Output | Should -Match 'What if'
        $preview.Output | Should -Match $name
    }

    It 'applies the seed source (the v1beta1 Broker ref resolves, with a warning) and its Deployment' {
        $apply.ExitCode | Should -Be 0 -Because $apply.Output
        $apply.Output | Should -Match 'v1beta1'
        $apply.Output | Should -Match 'Deployment'
        $apply.Output | Should -Match 'Created'
        $apply.Output | Should -Not -Match 'really'
    }

    It 'changes nothing when run again' {
        $again.ExitCode | Should -Be 0 -Because $again.Output
        $again.Output | Should -Not -Match 'Created'
    }
}

Describe 'examples/app-writes.Tests.ps1' -Tag Installed -Skip:$skip {
    BeforeAll {
        $script:dbName = New-TestName ex_app
        $script:db = New-TestDatabase $dbName
        # The example reads its database from the libpq variables, as psql and the module both do.
        $environment = ConvertTo-PsqlEnvironment $db
        $results = Join-Path $work 'app-writes.xml'
        $runner = Join-Path $work 'run-app-writes.ps1'
        Set-Content $runner @"
Import-Module '$(Join-Path (Get-Module Pester).ModuleBase 'Pester.psd1')'
`$result = Invoke-Pester -Path '$(Join-Path $examples 'app-writes.Tests.ps1')' -PassThru -Output Detailed
exit (`$result.FailedCount + `$result.FailedContainersCount + `$result.FailedBlocksCount + [int](`$result.PassedCount -eq 0))
"@
        $script:run = Invoke-Pwsh -File $runner -Environment $environment
    }
    AfterAll { Remove-TestDatabase $dbName }

    It 'passes under Pester, with the database from PGHOST/PGDATABASE/PGUSER/PGPASSWORD' {
        $run.ExitCode | Should -Be 0 -Because $run.Output
        $run.Output | Should -Match 'Tests Passed: 1'
    }

    It 'cleans up after itself' {
        Get-PgSourceTrigger -ConnectionString $db | Should -BeNullOrEmpty
    }
}

# Not tagged Installed: the demo imports the module it builds in out/, as the README's main job does.
Describe 'examples/Demo/demo.ps1 (the README main job) with -ConnectionString' -Skip:$skip {
    BeforeAll {
        $script:dbName = New-TestName ex_demo
        $script:db = New-TestDatabase $dbName
        $script:run = Invoke-Pwsh -File (Join-Path $examples 'Demo/demo.ps1') -ArgumentList '-ConnectionString', $db
    }
    AfterAll { Remove-TestDatabase $dbName }

    It 'shows five CloudEvents and the counts, and cleans up' {
        $run.ExitCode | Should -Be 0 -Because $run.Output
        ([regex]::Matches($run.Output, '--- CloudEvent \d')).Count | Should -Be 5
        $run.Output | Should -Match 'received 5, delivered 5'
        Get-PgSourceTrigger -ConnectionString $db | Should -BeNullOrEmpty
        Invoke-TestSql "SELECT count(*) FROM pg_class WHERE relname = 'orders'" -ConnectionString $db | Should -Be 0
        Assert-NoPassword $run.Output
    }
}
