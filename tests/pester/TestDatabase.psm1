<#
    Test set-up SQL for the Pester suite, for any connection-string form the module accepts (a postgres:// URL,
    libpq key=value pairs, Npgsql Key=Value;...). psql cannot read Npgsql's form, and a password must not sit on a
    command line, so psql gets the connection through the libpq variables: the demo's Psql module does exactly that
    (ConvertTo-PsqlEnvironment, Invoke-Psql), and the tests use it rather than a second parser.
#>
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot '../../examples/Demo/Psql.psm1') -Force

function Get-TestPsql {
    # Next to the newest local server binaries when there are some (Debian keeps psql there too), else on PATH.
    $bin = Get-ChildItem '/usr/lib/postgresql/*/bin' -Directory -ErrorAction SilentlyContinue | Sort-Object FullName | Select-Object -Last 1
    Find-Psql -BinDirectory ${bin}?.FullName
}

function Invoke-TestSql {
    <# Runs SQL (psql -c), stopping at the first error; returns unaligned, tuples-only output lines. #>
    param(
        [Parameter(Mandatory, Position = 0)] [string] $Sql,
        [Parameter(Position = 1)] [string] $ConnectionString = $env:PGSOURCE_TEST_CONNECTION
    )
    Invoke-Psql -Psql (Get-TestPsql) -Environment (ConvertTo-PsqlEnvironment $ConnectionString) -Sql $Sql
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

function Get-TestConnectionPart {
    <# One libpq part (PGUSER, PGPASSWORD, ...) of a connection string in any form; $null when it has none. #>
    param([Parameter(Mandatory)] [string] $Name, [string] $ConnectionString = $env:PGSOURCE_TEST_CONNECTION)
    (ConvertTo-PsqlEnvironment $ConnectionString)[$Name]
}

function Get-TestPassword {
    <# The test connection's password, for asserting that it appears nowhere; $null when it has none. #>
    param([string] $ConnectionString = $env:PGSOURCE_TEST_CONNECTION)
    Get-TestConnectionPart PGPASSWORD $ConnectionString
}

function Assert-NoPassword {
    <# Fails the current test when the text shows the test connection's password. #>
    param([string] $Text)
    $password = Get-TestPassword
    if ($password) { $Text | Should -Not -Match ([regex]::Escape($password)) }
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

Export-ModuleMember -Function Invoke-TestSql, New-TestDatabase, Remove-TestDatabase, Set-TestDatabaseName, Get-TestConnectionPart,
    Get-TestPassword, Assert-NoPassword, Remove-TestPassword, New-TestName
