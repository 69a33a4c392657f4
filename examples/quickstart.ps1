# Quickstart: capture changes on one table and watch them arrive as objects.
# Needs a PostgreSQL you can create triggers in; set the connection once for the session.
Import-Module PostgresSource

$env:PGSOURCE_CONNECTION = 'postgres://app:secret@localhost:5432/shop'

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
