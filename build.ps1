#Requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests, and packages the PostgresSource module.
.DESCRIPTION
    Wraps the same dotnet commands CI runs (which needs no pwsh):
      Build   - dotnet build PostgresSource.sln; assembles out/PostgresSource/ and out/adapter/
      Test    - dotnet test PostgresSource.sln, then the Pester suite when Pester 5 is installed
      Pester  - only the Pester suite (needs PGSOURCE_TEST_CONNECTION)
      Package - a Gallery .nupkg of out/PostgresSource in out/package/ (plain: dotnet pack src/PostgresSource.PowerShell)
      Publish - Publish-PSResource of out/PostgresSource (needs -ApiKey)
.EXAMPLE
    ./build.ps1 -Task Build
.EXAMPLE
    ./build.ps1 -Task Package -Configuration Release
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Pester', 'Package', 'Publish')]
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
    if (-not (Get-Module -ListAvailable -Name Pester | Where-Object Version -ge ([version]'5.0'))) {
        Write-Warning 'Pester 5 is not installed: skipping the Pester suite (Install-PSResource Pester).'
        return
    }
    Import-Module Pester -MinimumVersion 5.0
    $config = New-PesterConfiguration
    $config.Run.Path = Join-Path $root 'tests/pester'
    $config.Run.Exit = $false
    $config.Output.Verbosity = 'Detailed'
    $result = Invoke-Pester -Configuration $config
    if ($result.FailedCount -gt 0) { throw "$($result.FailedCount) Pester test(s) failed." }
}

foreach ($step in $Task) {
    switch ($step) {
        'Build' { Invoke-Dotnet @('build', (Join-Path $root 'PostgresSource.sln'), '-c', $Configuration) }
        'Test' {
            Invoke-Dotnet @('test', (Join-Path $root 'PostgresSource.sln'), '-c', $Configuration)
            Invoke-PesterSuite
        }
        'Pester' { Invoke-PesterSuite }
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
