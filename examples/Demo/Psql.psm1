# Runs the demo's SQL through psql. The connection goes to psql through the libpq environment variables
# (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE), set for the one psql process and restored
# after, so a password is never on a command line (where ps and shell history would show it).

Set-StrictMode -Version 3.0

function Find-Psql {
    <# psql next to the server binaries when there are some, else the one on PATH. #>
    [CmdletBinding()]
    [OutputType([string])]
    param([string] $BinDirectory)
    if ($BinDirectory) {
        $next = Join-Path $BinDirectory ($IsWindows ? 'psql.exe' : 'psql')
        if (Test-Path -LiteralPath $next) { return $next }
    }
    $onPath = Get-Command -Name psql -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if (-not $onPath) {
        throw 'psql not found (next to the server binaries or on PATH). Install the PostgreSQL client (Debian/Ubuntu: apt-get install postgresql-client).'
    }
    return $onPath.Source
}

function Split-LibpqKeywords([string] $Text) {
    # libpq key=value pairs separated by blanks; a value may be single-quoted, with \' and \\ escapes.
    $pairs = [ordered]@{}
    $i = 0
    while ($i -lt $Text.Length) {
        while ($i -lt $Text.Length -and [char]::IsWhiteSpace($Text[$i])) { $i++ }
        if ($i -ge $Text.Length) { break }
        $eq = $Text.IndexOf('=', $i)
        if ($eq -lt 0) { throw 'The connection string has a keyword without "=".' }
        $key = $Text.Substring($i, $eq - $i).Trim().ToLowerInvariant()
        $i = $eq + 1
        while ($i -lt $Text.Length -and [char]::IsWhiteSpace($Text[$i])) { $i++ }
        $value = [System.Text.StringBuilder]::new()
        $quoted = $i -lt $Text.Length -and $Text[$i] -eq "'"
        if ($quoted) { $i++ }
        while ($i -lt $Text.Length -and ($quoted ? $Text[$i] -ne "'" : -not [char]::IsWhiteSpace($Text[$i]))) {
            if ($Text[$i] -eq '\' -and $i + 1 -lt $Text.Length) { $i++ }
            $null = $value.Append($Text[$i])
            $i++
        }
        if ($quoted) {
            if ($i -ge $Text.Length) { throw 'The connection string has an unterminated quoted value.' }
            $i++
        }
        $pairs[$key] = $value.ToString()
    }
    return $pairs
}

function ConvertTo-PsqlEnvironment {
    <#
    .SYNOPSIS
    The libpq environment variables for a connection string in any form the module takes: a postgres:// URL,
    libpq key=value, or Npgsql Key=Value;. Only the keywords psql needs are read; the rest are ignored.
    The result holds the password: never print it.
    #>
    [CmdletBinding()]
    [OutputType([hashtable])]
    param(
        [Parameter(Mandatory)] [string] $ConnectionString,
        [pscredential] $Credential
    )
    $text = $ConnectionString.Trim()
    $settings = @{}
    if ($text -match '^postgres(ql)?://') {
        $uri = [Uri]$text
        if ($uri.Host) { $settings.PGHOST = [Uri]::UnescapeDataString($uri.Host.Trim('[', ']')) }
        if (-not $uri.IsDefaultPort -and $uri.Port -gt 0) { $settings.PGPORT = [string]$uri.Port }
        if ($uri.UserInfo) {
            $user, $password = $uri.UserInfo -split ':', 2
            $settings.PGUSER = [Uri]::UnescapeDataString($user)
            if ($null -ne $password) { $settings.PGPASSWORD = [Uri]::UnescapeDataString($password) }
        }
        $database = $uri.AbsolutePath.TrimStart('/')
        if ($database) { $settings.PGDATABASE = [Uri]::UnescapeDataString($database) }
        foreach ($pair in $uri.Query.TrimStart('?').Split('&', [StringSplitOptions]::RemoveEmptyEntries)) {
            $key, $value = $pair -split '=', 2
            $map = @{ host = 'PGHOST'; port = 'PGPORT'; dbname = 'PGDATABASE'; user = 'PGUSER'; password = 'PGPASSWORD'; sslmode = 'PGSSLMODE' }
            $name = $map[[Uri]::UnescapeDataString($key).ToLowerInvariant()]
            if ($name) { $settings[$name] = [Uri]::UnescapeDataString([string]$value) }
        }
    } elseif (-not $text.Contains(';') -and $text -match '^\s*(host|hostaddr|port|dbname|user|password|sslmode|sslrootcert|sslcert|sslkey|application_name|connect_timeout|options|target_session_attrs|passfile|keepalives_idle)\s*=') {
        # libpq key=value, the same test the module makes (no ';' and libpq keywords).
        $pairs = Split-LibpqKeywords $text
        $map = @{ host = 'PGHOST'; hostaddr = 'PGHOSTADDR'; port = 'PGPORT'; dbname = 'PGDATABASE'; user = 'PGUSER'; password = 'PGPASSWORD'; sslmode = 'PGSSLMODE' }
        foreach ($key in $pairs.Keys) {
            if ($map[$key]) { $settings[$map[$key]] = $pairs[$key] }
        }
    } else {
        # Npgsql Key=Value; with its synonyms. DbConnectionStringBuilder handles quoting the way ADO.NET does.
        # PowerShell adapts this builder as a dictionary of its keywords (so .ConnectionString = ... would add a
        # keyword named ConnectionString): its members are called as methods.
        $builder = [System.Data.Common.DbConnectionStringBuilder]::new()
        $builder.set_ConnectionString($text)
        $map = @{
            host = 'PGHOST'; server = 'PGHOST'; port = 'PGPORT'; database = 'PGDATABASE'; db = 'PGDATABASE'
            username = 'PGUSER'; 'user name' = 'PGUSER'; userid = 'PGUSER'; 'user id' = 'PGUSER'; uid = 'PGUSER'
            password = 'PGPASSWORD'; pwd = 'PGPASSWORD'; psw = 'PGPASSWORD'
        }
        foreach ($key in $builder.get_Keys()) {
            $name = $map[$key.ToLowerInvariant()]
            if ($name) { $settings[$name] = [string]$builder.get_Item($key) }
            if (($key -replace ' ', '') -eq 'sslmode') {
                # Npgsql spells the modes VerifyFull, VerifyCA; libpq wants verify-full, verify-ca.
                $settings.PGSSLMODE = ([string]$builder.get_Item($key) -creplace '(?<=[a-z])(?=[A-Z])', '-').ToLowerInvariant()
            }
        }
    }
    if ($Credential) {
        $settings.PGUSER = $Credential.UserName
        $settings.PGPASSWORD = $Credential.GetNetworkCredential().Password
    }
    return $settings
}

function Invoke-Psql {
    <# Runs SQL with psql (stops at the first error) and returns its output; the connection comes from -Environment. #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Psql,
        [Parameter(Mandatory)] [hashtable] $Environment,
        [Parameter(Mandatory)] [string] $Sql
    )
    # Set-Item/Remove-Item, not [Environment]::SetEnvironmentVariable: PowerShell passes $null to a .NET string as
    # "", which would leave an empty variable behind (libpq reads an empty PGSERVICE as a service named "").
    $saved = @{}
    foreach ($name in $Environment.Keys) {
        $saved[$name] = [Environment]::GetEnvironmentVariable($name)
        Set-Item "Env:$name" $Environment[$name]
    }
    try {
        $output = & $Psql --no-psqlrc --quiet --tuples-only --no-align -v ON_ERROR_STOP=1 --command $Sql 2>&1
        if ($LASTEXITCODE -ne 0) {
            throw "psql failed (exit code $LASTEXITCODE): $(($output | Out-String).Trim())"
        }
        $output
    } finally {
        foreach ($name in $saved.Keys) {
            if ($null -eq $saved[$name]) { Remove-Item "Env:$name" -ErrorAction SilentlyContinue } else { Set-Item "Env:$name" $saved[$name] }
        }
    }
}

Export-ModuleMember -Function Find-Psql, ConvertTo-PsqlEnvironment, Invoke-Psql
