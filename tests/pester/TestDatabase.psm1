<#
    Test set-up SQL for the Pester suite, for any connection-string form the module accepts (a postgres:// URL,
    libpq key=value pairs, Npgsql Key=Value;...). psql cannot read Npgsql's form, and a password must not sit on a
    command line, so psql always gets the connection through the libpq variables (PGHOST, PGPASSWORD, ...).
#>
Set-StrictMode -Version Latest

$script:libpqNames = @{
    host = 'PGHOST'; server = 'PGHOST'; port = 'PGPORT'
    database = 'PGDATABASE'; db = 'PGDATABASE'; dbname = 'PGDATABASE'
    username = 'PGUSER'; 'user id' = 'PGUSER'; userid = 'PGUSER'; user = 'PGUSER'; uid = 'PGUSER'
    password = 'PGPASSWORD'; pwd = 'PGPASSWORD'; sslmode = 'PGSSLMODE'; 'ssl mode' = 'PGSSLMODE'
}

function ConvertTo-PgEnvironment {
    <# The libpq variables that reach the database a connection string names. #>
    param([Parameter(Mandatory)] [string] $ConnectionString)
    $result = [ordered]@{}
    if ($ConnectionString -match '^(postgres|postgresql)://') {
        $uri = [uri] $ConnectionString
        if ($uri.UserInfo) {
            $user, $password = $uri.UserInfo -split ':', 2
            $result.PGUSER = [uri]::UnescapeDataString($user)
            if ($null -ne $password) { $result.PGPASSWORD = [uri]::UnescapeDataString($password) }
        }
        if ($uri.Host) { $result.PGHOST = $uri.Host }
        if ($uri.Port -gt 0) { $result.PGPORT = [string] $uri.Port }
        $database = $uri.AbsolutePath.TrimStart('/')
        if ($database) { $result.PGDATABASE = [uri]::UnescapeDataString($database) }
        return $result
    }
    # Npgsql separates pairs with ';', libpq with spaces (values may be single-quoted).
    $pairs = if ($ConnectionString -match ';') {
        $ConnectionString -split ';' | Where-Object { $_ -match '=' } | ForEach-Object { , ($_ -split '=', 2) }
    }
    else {
        [regex]::Matches($ConnectionString, "(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)") | ForEach-Object {
            , @($_.Groups[1].Value, ($_.Groups[2].Value -replace "^'(.*)'$", '$1' -replace "\\(.)", '$1'))
        }
    }
    foreach ($pair in $pairs) {
        $name = $script:libpqNames[$pair[0].Trim().ToLowerInvariant()]
        if ($name) { $result[$name] = $pair[1].Trim() }
    }
    $result
}

function Get-Psql {
    $command = Get-Command psql -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($command) { return $command.Source }
    $found = Get-ChildItem '/usr/lib/postgresql/*/bin/psql' -ErrorAction SilentlyContinue | Sort-Object FullName | Select-Object -Last 1
    if ($found) { return $found.FullName }
    throw 'psql is not installed (Debian: apt-get install postgresql-client); the tests use it to create their tables.'
}

function Invoke-WithPgEnvironment {
    <# Runs a script block with the libpq variables of a connection set, and the caller's restored afterwards. #>
    param([Parameter(Mandatory)] [string] $ConnectionString, [Parameter(Mandatory)] [scriptblock] $ScriptBlock)
    $names = 'PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE', 'PGSSLMODE', 'PGSERVICE'
    # Remove-Item, not [Environment]::SetEnvironmentVariable: PowerShell passes $null to a .NET string as "",
    # and libpq reads an empty PGSERVICE as a service named "".
    $saved = @{}
    foreach ($name in $names) { $saved[$name] = [Environment]::GetEnvironmentVariable($name) }
    try {
        foreach ($name in $names) { Remove-Item "Env:$name" -ErrorAction SilentlyContinue }
        $variables = ConvertTo-PgEnvironment $ConnectionString
        foreach ($name in $variables.Keys) { Set-Item "Env:$name" $variables[$name] }
        & $ScriptBlock
    }
    finally {
        foreach ($name in $names) {
            if ($null -eq $saved[$name]) { Remove-Item "Env:$name" -ErrorAction SilentlyContinue } else { Set-Item "Env:$name" $saved[$name] }
        }
    }
}

function Invoke-TestSql {
    <# Runs SQL (psql -c), stopping at the first error; returns unaligned, tuples-only output lines. #>
    param(
        [Parameter(Mandatory, Position = 0)] [string] $Sql,
        [Parameter(Position = 1)] [string] $ConnectionString = $env:PGSOURCE_TEST_CONNECTION
    )
    $psql = Get-Psql
    Invoke-WithPgEnvironment $ConnectionString {
        $output = & $psql -X -q -t -A -v ON_ERROR_STOP=1 -c $Sql 2>&1
        if ($LASTEXITCODE -ne 0) { throw "psql failed: $output" }
        $output
    }
}

function New-TestDatabase {
    <# A fresh database on the test server (dropped first if left over), as a connection string of the same form. #>
    param([Parameter(Mandatory)] [ValidatePattern('^[a-z_][a-z0-9_]*$')] [string] $Name, [string] $ConnectionString = $env:PGSOURCE_TEST_CONNECTION)
    Invoke-TestSql "DROP DATABASE IF EXISTS $Name WITH (FORCE)" $ConnectionString | Out-Null
    Invoke-TestSql "CREATE DATABASE $Name" $ConnectionString | Out-Null
    Set-TestDatabaseName -ConnectionString $ConnectionString -Name $Name
}

function Remove-TestDatabase {
    param([Parameter(Mandatory)] [string] $Name, [string] $ConnectionString = $env:PGSOURCE_TEST_CONNECTION)
    # The module's connection pools may still hold sessions there: FORCE ends them (PostgreSQL 13+).
    Invoke-TestSql "DROP DATABASE IF EXISTS $Name WITH (FORCE)" $ConnectionString | Out-Null
}

function Set-TestDatabaseName {
    <# The same connection string, naming another database. #>
    param([Parameter(Mandatory)] [string] $ConnectionString, [Parameter(Mandatory)] [string] $Name)
    if ($ConnectionString -match '^[a-z]+://') { return ($ConnectionString -replace '(://[^/]+/)[^?]*', "`${1}$Name") }
    if ($ConnectionString -match '(?i)\b(database|dbname|db)\s*=') { return ($ConnectionString -replace '(?i)(\b(?:database|dbname|db)\s*=\s*)[^;\s]+', "`${1}$Name") }
    $separator = if ($ConnectionString -match ';') { ';' } else { ' ' }
    "$ConnectionString$($separator)Database=$Name"
}

function Get-TestPassword {
    <# The test connection's password, for asserting that it appears nowhere; $null when it has none. #>
    param([string] $ConnectionString = $env:PGSOURCE_TEST_CONNECTION)
    (ConvertTo-PgEnvironment $ConnectionString)['PGPASSWORD']
}

function Remove-TestPassword {
    <# The connection string without its password (for -Credential tests). #>
    param([Parameter(Mandatory)] [string] $ConnectionString)
    if ($ConnectionString -match '^[a-z]+://') { return ($ConnectionString -replace '(://[^:/@]+):[^@]*@', '$1@') }
    ($ConnectionString -replace "(?i)\b(password|pwd)\s*=\s*('[^']*'|[^;\s]*);?\s*", '').TrimEnd(';', ' ')
}

function New-TestName {
    <# A short unique lower-case suffix, so parallel or repeated runs never collide. #>
    param([string] $Prefix = 'pester')
    "$($Prefix)_$([guid]::NewGuid().ToString('N').Substring(0, 8))"
}

Export-ModuleMember -Function ConvertTo-PgEnvironment, Invoke-WithPgEnvironment, Invoke-TestSql, New-TestDatabase, Remove-TestDatabase,
    Set-TestDatabaseName, Get-TestPassword, Remove-TestPassword, New-TestName
