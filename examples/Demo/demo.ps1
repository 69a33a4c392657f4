#Requires -Version 7.4
<#
.SYNOPSIS
The main job, end to end, with the PostgresSource cmdlets: a sample table, a Durable source, inserts, an
update and a delete, delivered as CloudEvents; then everything is removed again.

.DESCRIPTION
dotnet tool restore && dotnet pwsh -NoProfile -File examples/Demo/demo.ps1 [-Sink <url>] [-ConnectionString <string>]

Builds the module if out/PostgresSource/ is missing and imports it by name. Without -ConnectionString it
starts a throwaway PostgreSQL from the local server binaries (as the postgres user when run as root) and
removes it afterwards. SQL runs through psql, which gets the connection from the libpq PG* environment
variables, so no password is ever on a command line or printed. See docs/demo.md.

.PARAMETER Sink
Also deliver every event over HTTP to this CloudEvents endpoint (binary content mode).

.PARAMETER ConnectionString
Use this existing database instead of a throwaway server (postgres:// URL, libpq key=value or Npgsql
Key=Value;). The demo creates public.orders there (it refuses if the table exists) and drops it at the end.
#>
[CmdletBinding()]
param(
    [Uri] $Sink,
    [string] $ConnectionString
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
# The demo prints its own steps; a progress bar in redirected output (CI logs) is only noise.
if ([Console]::IsOutputRedirected) { $ProgressPreference = 'SilentlyContinue' }

$expected = 5
$repoRoot = (Resolve-Path -LiteralPath (Join-Path $PSScriptRoot '..' '..')).Path
$clock = [System.Diagnostics.Stopwatch]::StartNew()

# [Console] directly rather than Write-Host: cleanup lines must still print while Ctrl+C stops the script.
function Write-Line([string] $Text = '') { [Console]::Out.WriteLine($Text) }
function Write-Indented([string] $Text) {
    foreach ($line in ($Text.Trim("`r", "`n") -split "`r?`n")) { Write-Line "   $line" }
}

function Write-ChangeResult {
    # Install-/Uninstall-PgSourceTrigger results: the status, then each database change on its own line.
    param([Parameter(ValueFromPipeline)] $Result)
    process {
        Write-Line "   $($Result.Status) $($Result.Source) ($($Result.ObjectName))"
        foreach ($change in $Result.Changes) { Write-Line "     - $change" }
    }
}

function ConvertTo-CloudEventJson {
    # The event in the CloudEvents structured JSON form: context attributes, extensions, then the data as sent.
    param([Parameter(Mandatory)] $CloudEvent)
    $json = [ordered]@{ specversion = '1.0'; id = $CloudEvent.Id; source = $CloudEvent.Source; type = $CloudEvent.Type }
    if ($CloudEvent.Subject) { $json.subject = $CloudEvent.Subject }
    if ($null -ne $CloudEvent.Time) {
        $json.time = ([DateTimeOffset]$CloudEvent.Time).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", [cultureinfo]::InvariantCulture)
    }
    if ($CloudEvent.DataContentType) { $json.datacontenttype = $CloudEvent.DataContentType }
    foreach ($name in $CloudEvent.Extensions.Keys | Sort-Object) { $json[$name.ToLowerInvariant()] = $CloudEvent.Extensions[$name] }
    if ($CloudEvent.DataJson) { $json.data = $CloudEvent.DataJson | ConvertFrom-Json -DateKind String }
    $json | ConvertTo-Json -Depth 32
}

function Show-CloudEvent([int] $Number, $CloudEvent) {
    Write-Line "--- CloudEvent ${Number}: $($CloudEvent.Operation) $($CloudEvent.Subject) ---"
    Write-Line (ConvertTo-CloudEventJson $CloudEvent)
}

$server = $null
$source = $null
$tableCreated = $false
$exitCode = 0
$finished = $false
try {
    # 1. The module, as users load it: by name from PSModulePath (this repository's out/ folder, for this process).
    $manifest = Join-Path $repoRoot 'out' 'PostgresSource' 'PostgresSource.psd1'
    if (-not (Test-Path -LiteralPath $manifest)) {
        Write-Line '0. Building the module (first run): dotnet build src/PostgresSource.PowerShell -c Release ...'
        $project = Join-Path $repoRoot 'src' 'PostgresSource.PowerShell' 'PostgresSource.PowerShell.csproj'
        $build = & dotnet build $project -c Release -nologo -v:q 2>&1
        if ($LASTEXITCODE -ne 0 -or -not (Test-Path -LiteralPath $manifest)) {
            throw "dotnet build failed (exit code $LASTEXITCODE):`n$(($build | Out-String).Trim())"
        }
    }
    $env:PSModulePath = (Join-Path $repoRoot 'out') + [System.IO.Path]::PathSeparator + $env:PSModulePath
    Import-Module PostgresSource
    Import-Module (Join-Path $PSScriptRoot 'ThrowawayPostgres.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'Psql.psm1') -Force
    $module = Get-Module PostgresSource
    Write-Line "1. Imported PostgresSource $($module.Version) from $([System.IO.Path]::GetRelativePath($repoRoot, $module.ModuleBase))"

    # 2. A database: the one given, or a throwaway server. $connection never holds the throwaway password
    #    (that stays in $credential); either way only the module's masked display of it is printed.
    $credential = $null
    if ($ConnectionString) {
        Write-Line '2. Using the database given by -ConnectionString ...'
        $connection = $ConnectionString
        $binDirectory = Find-PostgresBinDirectory
    } else {
        Write-Line '2. Starting a throwaway PostgreSQL from the local server binaries ...'
        $server = Start-ThrowawayPostgres
        $connection = $server.ConnectionString
        $credential = $server.Credential
        $binDirectory = $server.BinDirectory
        Write-Line "   $($server.BinDirectory), port $($server.Port), data in $($server.Root)$($server.AsServiceUser ? " (as the 'postgres' user)" : '')"
    }
    $db = @{ ConnectionString = $connection }
    if ($credential) { $db.Credential = $credential }
    $check = Test-PgSourceConnection @db -Detailed
    if (-not $check.Success) {
        throw "Cannot connect ($($check.FailureKind)): $($check.Reason)"
    }
    Write-Line "   connected: $($check.Connection) (PostgreSQL $($check.ServerVersion), wal_level $($check.WalLevel))"
    $psql = Find-Psql -BinDirectory $binDirectory
    $pgEnvironment = ConvertTo-PsqlEnvironment -ConnectionString $connection -Credential $credential

    # 3. The sample table.
    Write-Line '3. Creating the sample table public.orders (with psql) ...'
    if ((Invoke-Psql $psql $pgEnvironment "SELECT to_regclass('""public"".""orders""') IS NOT NULL") -eq 't') {
        throw 'public.orders already exists in that database; the demo creates (and later drops) its own, so use a database without one.'
    }
    Invoke-Psql $psql $pgEnvironment 'CREATE TABLE "public"."orders" ("id" serial PRIMARY KEY, "item" text NOT NULL, "qty" int NOT NULL)' | Out-Null
    $tableCreated = $true

    # 4. The source and its triggers. Durable: the trigger journals every change, so the changes written next wait
    #    in the journal until a listener has delivered them (at least once).
    Write-Line '4. New-PgSource -Name demo-orders -Table public.orders -Mode Durable | Install-PgSourceTrigger -Confirm:$false'
    $source = New-PgSource -Name demo-orders -Table public.orders -Mode Durable @db
    $source | Install-PgSourceTrigger -Confirm:$false | Write-ChangeResult

    # 5. Changes, written by an ordinary client.
    Write-Line '5. Writing sample changes (with psql):'
    $statements = @(
        "INSERT INTO ""public"".""orders"" (""item"", ""qty"") VALUES ('espresso beans', 2)"
        "INSERT INTO ""public"".""orders"" (""item"", ""qty"") VALUES ('oat milk', 6)"
        "INSERT INTO ""public"".""orders"" (""item"", ""qty"") VALUES ('croissant', 12)"
        "UPDATE ""public"".""orders"" SET ""qty"" = ""qty"" + 1 WHERE ""item"" = 'espresso beans'"
        "DELETE FROM ""public"".""orders"" WHERE ""item"" = 'croissant'"
    )
    foreach ($statement in $statements) {
        Write-Line "   $statement;"
        Invoke-Psql $psql $pgEnvironment $statement | Out-Null
    }

    # 6. The listener. Without a sink it writes each event to the pipeline. With -Sink it delivers and writes no
    #    objects (only counts, in -Verbose), so the events are shown first with -Peek, which reads the journal's
    #    waiting changes without consuming them; the same events (Durable ids are deterministic) then go to the sink.
    $listenErrors = @()
    if ($Sink) {
        Write-Line "6. Start-PgSourceListener -Peek: the changes waiting in the journal, as CloudEvents"
        $number = 0
        $source | Start-PgSourceListener -Peek | ForEach-Object { Show-CloudEvent (++$number) $_ }
        Write-Line "   Start-PgSourceListener -Sink $Sink -MaxEvents $expected -Timeout 30"
        $report = $source | Start-PgSourceListener -Sink $Sink -MaxEvents $expected -Timeout 30 -Verbose `
            -ErrorAction SilentlyContinue -ErrorVariable listenErrors 4>&1
        $received = 0
        $delivered = 0
        foreach ($record in $report) {
            Write-Line "   [listener] $record"
            # The listener's closing count: "<source>: received N, delivered N, retried ...".
            if ("$record" -match 'received (\d+), delivered (\d+)') {
                $received = [int]$Matches[1]
                $delivered = [int]$Matches[2]
            }
        }
        $target = $Sink
    } else {
        Write-Line "6. Start-PgSourceListener -MaxEvents $expected -Timeout 30: the events, as CloudEvents"
        $received = 0
        $source | Start-PgSourceListener -MaxEvents $expected -Timeout 30 -ErrorAction SilentlyContinue -ErrorVariable listenErrors |
            ForEach-Object { Show-CloudEvent (++$received) $_ }
        # Written to the pipeline is delivered, for a listener without a sink (then acknowledged).
        $delivered = $received
        $target = 'the pipeline'
    }
    foreach ($problem in $listenErrors) { [Console]::Error.WriteLine("   listener: $problem") }

    # 7. What is installed, as Get-PgSourceTrigger reports it (the backlog is what is still undelivered).
    Write-Line '7. Get-PgSourceTrigger'
    Write-Indented ($source | Get-PgSourceTrigger | Format-Table -AutoSize | Out-String -Width 200)

    Write-Line "   received $received, delivered $delivered (to $target)"
    if ($delivered -lt $expected) {
        throw "only $delivered of $expected events were delivered within 30 s."
    }
    $finished = $true
} catch {
    $finished = $true
    [Console]::Error.WriteLine("demo: failed: $($_.Exception.Message)")
    $exitCode = 1
} finally {
    # Also on failure and Ctrl+C: nothing the demo made is left behind.
    Write-Line '8. Cleaning up ...'
    if ($source) {
        try {
            Write-Line '   Uninstall-PgSourceTrigger -Confirm:$false'
            $source | Uninstall-PgSourceTrigger -Confirm:$false | Write-ChangeResult
        } catch {
            [Console]::Error.WriteLine("   Uninstall-PgSourceTrigger failed: $($_.Exception.Message)")
            $exitCode = 1
        }
    }
    # A throwaway server goes away whole; in a given database, drop only the table this run created.
    if ($tableCreated -and -not $server) {
        try {
            Invoke-Psql $psql $pgEnvironment 'DROP TABLE "public"."orders"' | Out-Null
            Write-Line '   dropped public.orders'
        } catch {
            [Console]::Error.WriteLine("   dropping public.orders failed: $($_.Exception.Message)")
            $exitCode = 1
        }
    }
    if ($server) {
        try {
            Stop-ThrowawayPostgres -Server $server
            Write-Line "   stopped the throwaway server and removed $($server.Root)"
        } catch {
            [Console]::Error.WriteLine("   stopping the throwaway server failed: $($_.Exception.Message)")
            $exitCode = 1
        }
    }
    Write-Line "   Finished in $($clock.Elapsed.TotalSeconds.ToString('0.0', [cultureinfo]::InvariantCulture)) s."
    if (-not $finished) {
        # Ctrl+C: PowerShell runs this finally but not the catch, nor the exit below; end with the usual 128 + SIGINT.
        [Console]::Error.WriteLine('demo: interrupted; cleaned up.')
        [Environment]::Exit(130)
    }
}
exit $exitCode
