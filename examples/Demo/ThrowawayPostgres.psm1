# A throwaway PostgreSQL cluster for the demo, made from the local server binaries (initdb, pg_ctl).
# It listens on 127.0.0.1 only, on a free port, with a generated password that stays inside a PSCredential
# (it is written once to a private file for initdb, then deleted; never printed, never on a command line).

Set-StrictMode -Version 3.0

$ServiceUser = 'postgres'

function Find-PostgresBinDirectory {
    <# The folder holding initdb and pg_ctl: on PATH first, else the newest /usr/lib/postgresql/<version>/bin. #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    $initdb = Get-Command -Name initdb -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($initdb) {
        # Debian puts symlinks in /usr/local/bin or similar; the real folder also has psql and postgres.
        $real = (Get-Item -LiteralPath $initdb.Source).ResolvedTarget
        return Split-Path -Parent ($real ?? $initdb.Source)
    }
    $candidates = Get-ChildItem -Path '/usr/lib/postgresql/*/bin/initdb' -ErrorAction SilentlyContinue |
        Sort-Object { [int]($_.Directory.Parent.Name -replace '\D', '') } -Descending
    if ($candidates) {
        return $candidates[0].DirectoryName
    }
    return $null
}

function Invoke-ServerTool {
    # initdb refuses to run as root, so as root the tools run as the postgres system user. The working folder is
    # the cluster's own, which that user can enter (it may not be allowed into the caller's current folder).
    param(
        [Parameter(Mandatory)] $Server,
        [Parameter(Mandatory)] [string] $Tool,
        [string[]] $Arguments = @()
    )
    $path = Join-Path $Server.BinDirectory $Tool
    Push-Location -LiteralPath $Server.Root
    try {
        $output = if ($Server.AsServiceUser) {
            & runuser -u $ServiceUser -- $path @Arguments 2>&1
        } else {
            & $path @Arguments 2>&1
        }
        if ($LASTEXITCODE -ne 0) {
            throw "$Tool failed (exit code $LASTEXITCODE): $(($output | Out-String).Trim())"
        }
    } finally {
        Pop-Location
    }
}

function Get-FreeTcpPort {
    # Port 0 makes the kernel pick a free port; it is released at once for PostgreSQL to take.
    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    try {
        $listener.Start()
        return ([System.Net.IPEndPoint]$listener.LocalEndpoint).Port
    } finally {
        $listener.Stop()
    }
}

function Start-ThrowawayPostgres {
    <#
    .SYNOPSIS
    Creates and starts a temporary PostgreSQL cluster; returns its connection (without the password) and a PSCredential.
    .OUTPUTS
    An object with Host, Port, Database, ConnectionString (no password), Credential, BinDirectory, Root.
    Stop-ThrowawayPostgres stops it and removes its folder.
    #>
    [CmdletBinding()]
    param(
        [string] $BinDirectory = (Find-PostgresBinDirectory)
    )
    if (-not $BinDirectory) {
        throw 'No PostgreSQL server binaries found (initdb on PATH or under /usr/lib/postgresql/*/bin). ' +
            "Install them (Debian/Ubuntu: apt-get install postgresql) or pass -ConnectionString with an existing database."
    }
    $asServiceUser = (-not $IsWindows) -and [Environment]::IsPrivilegedProcess
    if ($asServiceUser -and -not (Get-Command -Name runuser -CommandType Application -ErrorAction SilentlyContinue)) {
        throw "Running as root needs 'runuser' to run initdb and pg_ctl as the '$ServiceUser' user."
    }

    $root = Join-Path ([System.IO.Path]::GetTempPath()) ('pgsource-demo-' + [guid]::NewGuid().ToString('N').Substring(0, 10))
    $server = [pscustomobject]@{
        PSTypeName       = 'PostgresSource.Demo.ThrowawayPostgres'
        Root             = $root
        DataDirectory    = Join-Path $root 'data'
        LogFile          = Join-Path $root 'server.log'
        BinDirectory     = $BinDirectory
        AsServiceUser    = $asServiceUser
        Host             = '127.0.0.1'
        Port             = Get-FreeTcpPort
        Database         = 'postgres'
        Credential       = $null
        ConnectionString = $null
    }
    $null = New-Item -ItemType Directory -Path $root
    # finally rather than catch: Ctrl+C stops the script without running catch blocks, and a half-started server
    # (or its folder) must not be left behind either way.
    $started = $false
    try {
        if (-not $IsWindows) {
            # Private before the password file is written into it.
            & chmod 700 $root
        }
        $password = [System.Security.Cryptography.RandomNumberGenerator]::GetHexString(32, $true)
        $passwordFile = Join-Path $root 'pwfile'
        [System.IO.File]::WriteAllText($passwordFile, $password + "`n")
        if ($asServiceUser) {
            & chown -R $ServiceUser $root
            if ($LASTEXITCODE -ne 0) { throw "Cannot give $root to the '$ServiceUser' user." }
        }
        Invoke-ServerTool $server initdb @('-D', $server.DataDirectory, '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync',
            '--auth=scram-sha-256', "--pwfile=$passwordFile")
        Remove-Item -LiteralPath $passwordFile -Force

        # Only this machine can connect (127.0.0.1 and a socket in the cluster's private folder); durability is not needed.
        $settings = @(
            '', '# PostgresSource demo'
            "port = $($server.Port)"
            "listen_addresses = '127.0.0.1'"
            "unix_socket_directories = '$root'"
            'fsync = off'
        )
        Add-Content -LiteralPath (Join-Path $server.DataDirectory 'postgresql.conf') -Value $settings
        Invoke-ServerTool $server pg_ctl @('-D', $server.DataDirectory, '-l', $server.LogFile, '-w', '-t', '60', 'start')

        $server.Credential = [pscredential]::new('postgres', (ConvertTo-SecureString -String $password -AsPlainText -Force))
        $server.ConnectionString = "Host=$($server.Host);Port=$($server.Port);Database=$($server.Database);Username=postgres"
        $started = $true
        return $server
    } finally {
        if (-not $started) {
            Stop-ThrowawayPostgres -Server $server
        }
    }
}

function Stop-ThrowawayPostgres {
    <# Stops the cluster (if it runs) and deletes its folder. Safe to call twice, and after a failed start. #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] $Server
    )
    if (Test-Path -LiteralPath (Join-Path $Server.DataDirectory 'postmaster.pid')) {
        try {
            Invoke-ServerTool $Server pg_ctl @('-D', $Server.DataDirectory, '-m', 'fast', '-w', '-t', '30', 'stop')
        } catch {
            # A Ctrl+C may have stopped the server already; otherwise do not leave it running.
            Write-Warning "pg_ctl stop: $_"
            try { Invoke-ServerTool $Server pg_ctl @('-D', $Server.DataDirectory, '-m', 'immediate', '-w', 'stop') } catch { }
        }
    }
    if (Test-Path -LiteralPath $Server.Root) {
        Remove-Item -LiteralPath $Server.Root -Recurse -Force
    }
}

Export-ModuleMember -Function Find-PostgresBinDirectory, Start-ThrowawayPostgres, Stop-ThrowawayPostgres
