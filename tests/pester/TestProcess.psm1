<#
    Runs a script in a pwsh of its own, as a user runs an example: a fresh process, the module imported by name
    from PSModulePath, only the environment the test gives it (and this run's PSModulePath and XDG folders).
#>
Set-StrictMode -Version Latest

function Get-PwshCommand {
    # Under the .NET tool, this process is "dotnet pwsh.dll"; a native install is the pwsh executable itself.
    $process = [Environment]::ProcessPath
    if ([IO.Path]::GetFileNameWithoutExtension($process) -eq 'dotnet') {
        return @($process, (Join-Path $PSHOME 'pwsh.dll'))
    }
    @($process)
}

function Invoke-Pwsh {
    param(
        [Parameter(Mandatory)] [string] $File,
        [string[]] $ArgumentList = @(),
        # Variables set for the child only; $null removes one.
        [hashtable] $Environment = @{},
        [string] $WorkingDirectory = (Get-Location).Path
    )
    $names = @('NO_COLOR', 'PGSOURCE_CONNECTION', 'PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE', 'PGSERVICE', 'KUBECONFIG') + @($Environment.Keys)
    $saved = @{}
    foreach ($name in $names) { $saved[$name] = [Environment]::GetEnvironmentVariable($name) }
    $command = Get-PwshCommand
    $executable, $prefix = $command[0], @($command | Select-Object -Skip 1)
    Push-Location $WorkingDirectory
    try {
        foreach ($name in $names) { Remove-Item "Env:$name" -ErrorAction SilentlyContinue }
        foreach ($name in $Environment.Keys) {
            if ($null -ne $Environment[$name]) { Set-Item "Env:$name" $Environment[$name] }
        }
        # Plain text: colour escapes would make the output unreadable in a report (and invalid in its XML).
        $env:NO_COLOR = '1'
        $output = & $executable @prefix -NoProfile -NonInteractive -File $File @ArgumentList 2>&1 | ForEach-Object { "$_" -replace '\e\[[0-9;?]*[A-Za-z]', '' }
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($output -join "`n") }
    }
    finally {
        Pop-Location
        foreach ($name in $names) {
            if ($null -eq $saved[$name]) { Remove-Item "Env:$name" -ErrorAction SilentlyContinue } else { Set-Item "Env:$name" $saved[$name] }
        }
    }
}

Export-ModuleMember -Function Invoke-Pwsh
