#Requires -Version 7.4
<#
.SYNOPSIS
    Runs the Pester acceptance suite against the built module or against a copy installed from a repository.
.DESCRIPTION
    -ModuleSource Build puts the repository's out/ folder first on PSModulePath, so tests import the module
    by name exactly as they would an installed one. -ModuleSource Installed registers -PackageDirectory
    (a folder holding the module's .nupkg) as a PSResourceGet repository, installs the module from it with
    Install-PSResource, and keeps out/ off PSModulePath, so only the installed copy can load.

    The suite reads PGSOURCE_TEST_CONNECTION (any connection-string form the module accepts) and, for the
    cluster tests, PGSOURCE_TEST_KUBECONFIG. Tests without them are skipped, and say so.
    The exit code is the number of failed tests, so a caller (CI, the xunit harness) can act on it.
.EXAMPLE
    $env:PGSOURCE_TEST_CONNECTION = 'postgres://postgres:secret@localhost/postgres'
    dotnet pwsh -NoProfile -File tests/pester/Invoke-PgSourcePester.ps1
#>
[CmdletBinding()]
param(
    # Test files or folders; default: this folder.
    [string[]] $Path,

    # Pester's manifest; default: the version restored from NuGet for tests/PostgresSource.Pester.Tests.
    [string] $PesterManifest,

    [ValidateSet('Build', 'Installed')]
    [string] $ModuleSource = 'Build',

    # With -ModuleSource Installed: the folder with PostgresSource.<version>.nupkg.
    [string] $PackageDirectory,

    [string[]] $Tag,
    [string[]] $ExcludeTag,

    # NUnit XML results, for CI's closing count.
    [string] $ResultPath,

    [ValidateSet('None', 'Normal', 'Detailed', 'Diagnostic')]
    [string] $Verbosity = 'Detailed'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = Resolve-Path (Join-Path $PSScriptRoot '../..')

$Path = @($Path | ForEach-Object { $_ -split ',' } | Where-Object { $_ })
if (-not $Path) {
    # examples/ is run by Examples.Tests.ps1, each script in a pwsh of its own, as a user runs it.
    $Path = @($PSScriptRoot)
}
if (-not $PesterManifest) {
    $nugetRoot = $env:NUGET_PACKAGES ?? (Join-Path $HOME '.nuget/packages')
    $PesterManifest = Get-ChildItem (Join-Path $nugetRoot 'pester/5.*/tools/Pester.psd1') -ErrorAction SilentlyContinue |
        Sort-Object { [version]$_.Directory.Parent.Name } | Select-Object -Last 1 -ExpandProperty FullName
    if (-not $PesterManifest) {
        throw 'Pester 5 is not in the NuGet cache: run "dotnet restore tests/PostgresSource.Pester.Tests" first.'
    }
}

$outFolder = Join-Path $root 'out'
$paths = $env:PSModulePath -split [IO.Path]::PathSeparator | Where-Object { $_ -and ((Resolve-Path $_ -ErrorAction SilentlyContinue)?.Path ?? $_) -ne $outFolder }
if ($ModuleSource -eq 'Build') {
    if (-not (Test-Path (Join-Path $outFolder 'PostgresSource/PostgresSource.psd1'))) {
        throw "The module is not built: run 'dotnet build PostgresSource.sln' first."
    }
    $paths = @($outFolder) + $paths
}
else {
    if (-not $PackageDirectory -or -not (Get-ChildItem (Join-Path $PackageDirectory 'PostgresSource.*.nupkg') -ErrorAction SilentlyContinue)) {
        throw '-ModuleSource Installed needs -PackageDirectory with the PostgresSource .nupkg (dotnet pack src/PostgresSource.PowerShell -o <folder>).'
    }
    $repository = 'PgSourceLocal'
    if (Get-PSResourceRepository -Name $repository -ErrorAction SilentlyContinue) {
        Unregister-PSResourceRepository -Name $repository
    }
    Register-PSResourceRepository -Name $repository -Uri (Resolve-Path $PackageDirectory).Path -Trusted
    Install-PSResource -Name PostgresSource -Repository $repository -Prerelease -Scope CurrentUser -Reinstall -Quiet
    $installed = Get-InstalledPSResource -Name PostgresSource
    Write-Host "Installed PostgresSource $($installed.Version)$(if ($installed.Prerelease) { '-' + $installed.Prerelease }) into $($installed.InstalledLocation)"
    $env:PGSOURCE_TEST_REPOSITORY = $repository
}
$env:PSModulePath = $paths -join [IO.Path]::PathSeparator
$env:PGSOURCE_TEST_MODULE_SOURCE = $ModuleSource

Import-Module $PesterManifest -Force
# The tests run with a user's defaults; those that want runbook style set 'Stop' themselves.
$ErrorActionPreference = 'Continue'
$PSStyle.OutputRendering = 'PlainText'
$config = New-PesterConfiguration
$config.Run.Path = $Path
$config.Run.Exit = $false
$config.Run.PassThru = $true
$config.Output.Verbosity = $Verbosity
if ($Tag) { $config.Filter.Tag = $Tag }
if ($ExcludeTag) { $config.Filter.ExcludeTag = $ExcludeTag }
if ($ResultPath) {
    $config.TestResult.Enabled = $true
    $config.TestResult.OutputFormat = 'NUnitXml'
    $config.TestResult.OutputPath = $ResultPath
}
$result = Invoke-Pester -Configuration $config
if (-not $result) {
    Write-Host 'Pester did not run (see the error above).'
    exit 1
}
Write-Host ("Pester ({0}): {1} passed, {2} failed, {3} skipped, {4} not run" -f $ModuleSource, $result.PassedCount, $result.FailedCount, $result.SkippedCount, $result.NotRunCount)
exit ($result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount)
