#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
<#
    What the Gallery gets: the package in the local repository this run installed from (PGSOURCE_TEST_REPOSITORY),
    as Save-PSResource writes it and as the .nupkg holds it. Manifest fields, help, formats and license must be
    there; symbols, build folders, the engine's own assemblies and the build machine's paths must not.
    Runs with Invoke-PgSourcePester.ps1 -ModuleSource Installed (skipped otherwise).
#>

BeforeDiscovery {
    $script:noRepository = -not $env:PGSOURCE_TEST_REPOSITORY
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestDatabase.psm1') -Force
    $script:root = [IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../..'))
    $script:cmdlets = (Import-PowerShellDataFile (Join-Path $root 'PostgresSource.psd1')).CmdletsToExport
}

Describe 'The package in the repository' -Tag Installed, Package -Skip:$noRepository {
    BeforeAll {
        $script:saved = Join-Path ([IO.Path]::GetTempPath()) (New-TestName pgsource_saved)
        New-Item -ItemType Directory $saved | Out-Null
        Save-PSResource -Name PostgresSource -Repository $env:PGSOURCE_TEST_REPOSITORY -Prerelease -Path $saved -TrustRepository -Quiet
        $script:moduleFolder = Get-ChildItem (Join-Path $saved 'PostgresSource') -Directory | Select-Object -First 1
        $script:files = @(Get-ChildItem $moduleFolder.FullName -Recurse -File | ForEach-Object { [IO.Path]::GetRelativePath($moduleFolder.FullName, $_.FullName) -replace '\\', '/' })
        $script:manifest = Test-ModuleManifest (Join-Path $moduleFolder.FullName 'PostgresSource.psd1')

        $repositoryFolder = ([uri] (Get-PSResourceRepository -Name $env:PGSOURCE_TEST_REPOSITORY).Uri).LocalPath
        $script:nupkg = Get-ChildItem $repositoryFolder -Filter 'PostgresSource.*.nupkg' | Select-Object -First 1
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [IO.Compression.ZipFile]::OpenRead($nupkg.FullName)
        try {
            $script:entries = @($zip.Entries.FullName)
            $reader = [IO.StreamReader]::new($zip.GetEntry('PostgresSource.nuspec').Open())
            $script:nuspec = [xml] $reader.ReadToEnd()
            $reader.Dispose()
        }
        finally { $zip.Dispose() }
    }

    AfterAll {
        Remove-Item $saved -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'saves into PostgresSource/(version) with the manifest at its root' {
        $moduleFolder.Name | Should -Be $manifest.Version.ToString()
        $files | Should -Contain 'PostgresSource.psd1'
    }

    It 'holds <_>' -ForEach @('PostgresSource.PowerShell.dll', 'PostgresSource.Format.ps1xml', 'LICENSE',
        'en-US/PostgresSource.PowerShell.dll-Help.xml', 'en-US/about_PostgresSource.help.txt',
        'dependencies/PostgresSource.Core.dll', 'dependencies/Npgsql.dll') {
        $files | Should -Contain $_
        $entries | Should -Contain $_
    }

    It 'has the manifest fields the Gallery shows' {
        $manifest.Author | Should -Not -BeNullOrEmpty
        $manifest.Description | Should -Not -BeNullOrEmpty
        $manifest.Copyright | Should -Not -BeNullOrEmpty
        $manifest.CompatiblePSEditions | Should -Be @('Core')
        $manifest.PowerShellVersion | Should -Be ([version] '7.4')
        $manifest.HelpInfoUri | Should -BeLike 'https://*'
        $manifest.LicenseUri | Should -Not -BeNullOrEmpty
        $manifest.ProjectUri | Should -Not -BeNullOrEmpty
        $manifest.PrivateData.PSData.Tags | Should -Contain 'PostgreSQL'
        $manifest.PrivateData.PSData.ReleaseNotes | Should -Not -BeNullOrEmpty
        @($manifest.ExportedCmdlets.Keys | Sort-Object) | Should -Be @($cmdlets | Sort-Object)
        $manifest.ExportedFunctions.Count | Should -Be 0
    }

    It 'has a nuspec with the id, the prerelease version, license, project and Gallery tags' {
        $metadata = $nuspec.package.metadata
        $metadata.id | Should -Be 'PostgresSource'
        $prerelease = $manifest.PrivateData.PSData.Prerelease
        $metadata.version | Should -Be ("$($manifest.Version)" + $(if ($prerelease) { "-$prerelease" }))
        $metadata.license.'#text' | Should -Be 'Apache-2.0'
        $metadata.projectUrl | Should -Be $manifest.ProjectUri.ToString()
        $tags = $metadata.tags -split ' '
        $tags | Should -Contain 'PSModule'
        $tags | Should -Contain 'PSEdition_Core'
        foreach ($cmdlet in $cmdlets) { $tags | Should -Contain "PSCmdlet_$cmdlet" }
    }

    It 'carries nothing from the build machine' {
        foreach ($list in $files, $entries) {
            $list | Where-Object { $_ -match '\.pdb$|(^|/)(obj|bin)/|\.deps\.json$|System\.Management\.Automation\.dll$|Microsoft\.PowerShell\.' } | Should -BeNullOrEmpty
        }
        # No text file names the folder this package was built in.
        $text = Get-ChildItem $moduleFolder.FullName -Recurse -File -Include *.psd1, *.ps1xml, *.xml, *.txt, *.json |
            Get-Content -Raw
        ($text -join "`n") | Should -Not -Match ([regex]::Escape($root.TrimEnd('/')))
    }
}
