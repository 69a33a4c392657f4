#Requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests, and packages the PostgresSource module.
.DESCRIPTION
    Wraps the same dotnet commands CI runs (which needs no pwsh):
      Build   - dotnet build PostgresSource.sln; assembles out/PostgresSource/ and out/adapter/
      Test    - dotnet test PostgresSource.sln (the xunit suites and, inside it, the Pester suite under pwsh)
      Pester  - only the Pester suite against out/PostgresSource (needs PGSOURCE_TEST_CONNECTION)
      Package - a Gallery .nupkg of out/PostgresSource in out/package/ (plain: dotnet pack src/PostgresSource.PowerShell)
      Publish - Publish-PSResource of out/PostgresSource (needs -ApiKey)
      Manifests - regenerates deploy/controller.yaml with the built module (Export-PgSourceManifest -Controller)
.EXAMPLE
    ./build.ps1 -Task Build
.EXAMPLE
    ./build.ps1 -Task Package -Configuration Release
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Pester', 'Package', 'Publish', 'Manifests')]
    [string[]] $Task = @('Build'),
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',
    [string] $ApiKey,
    [string] $Repository = 'PSGallery'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
$moduleDir = Join-Path $root 'out/PostgresSource'

function Invoke-Dotnet {
    param([string[]] $Arguments)
    & dotnet @Arguments
    if ($LASTEXITCODE -ne 0) { throw "dotnet $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Invoke-PesterSuite {
    # The same runner the test run uses: Pester 5 from the NuGet cache (restored for tests/PostgresSource.Pester.Tests),
    # the module imported by name from out/. Needs PGSOURCE_TEST_CONNECTION for the database tests.
    Invoke-Dotnet @('restore', (Join-Path $root 'tests/PostgresSource.Pester.Tests/PostgresSource.Pester.Tests.csproj'))
    & (Join-Path $root 'tests/pester/Invoke-PgSourcePester.ps1') -ExcludeTag Package
    if ($LASTEXITCODE -ne 0) { throw "$LASTEXITCODE Pester test(s) failed." }
}

foreach ($step in $Task) {
    switch ($step) {
        'Build' { Invoke-Dotnet @('build', (Join-Path $root 'PostgresSource.sln'), '-c', $Configuration) }
        'Test' {
            Invoke-Dotnet @('test', (Join-Path $root 'PostgresSource.sln'), '-c', $Configuration)
        }
        'Pester' { Invoke-PesterSuite }
        'Manifests' {
            # The built module (run the Build task first); the test ControllerInstallTests keeps the file equal to this.
            Import-Module (Join-Path $moduleDir 'PostgresSource.psd1') -Force
            $written = Export-PgSourceManifest -Controller -Path (Join-Path $root 'deploy/controller.yaml') -Force -Confirm:$false
            Write-Host "Regenerated $($written.FullName)"
        }
        'Package' {
            # dotnet pack builds, assembles out/PostgresSource/ and packs it with module/PostgresSource.nuspec.
            Invoke-Dotnet @('pack', (Join-Path $root 'src/PostgresSource.PowerShell/PostgresSource.PowerShell.csproj'), '-c', $Configuration)
            $manifest = Test-ModuleManifest -Path (Join-Path $moduleDir 'PostgresSource.psd1')
            Write-Host "Packaged PostgresSource $($manifest.Version) -> $(Join-Path $root 'out/package')"
        }
        'Publish' {
            if (-not $ApiKey) { throw 'Publish needs -ApiKey.' }
            Publish-PSResource -Path $moduleDir -Repository $Repository -ApiKey $ApiKey
        }
    }
}
