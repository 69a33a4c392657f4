# Quickstart: capture changes on one table and watch them arrive as objects.
# Needs a PostgreSQL with a table "orders" you can create triggers on.
#   ./quickstart.ps1 -ConnectionString 'postgres://app@localhost:5432/shop'   (the password from ~/.pgpass or -Credential)
param(
    # Any form the module reads: a postgres:// URL, libpq key=value pairs, or Npgsql Key=Value;...
    [string] $ConnectionString = $env:PGSOURCE_CONNECTION
)
Import-Module PostgresSource

# Set the connection once for the session: every cmdlet below uses it.
if ($ConnectionString) { $env:PGSOURCE_CONNECTION = $ConnectionString }

if (-not (Test-PgSourceConnection -Verbose)) {
    throw 'The database does not answer; see the verbose message above.'
}

# Describe the source, look at the SQL a DBA would review, then install it.
$source = New-PgSource -Name orders -Table orders
$source | Install-PgSourceTrigger -Script
$source | Install-PgSourceTrigger -Confirm:$false

# What is installed now?
Get-PgSourceTrigger -Name orders

# Remove it again when done.
$source | Uninstall-PgSourceTrigger -Confirm:$false
