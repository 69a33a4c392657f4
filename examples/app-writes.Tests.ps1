#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
<#
    A Pester test of an application's writes, with PostgresSource as the test helper: assert that
    placing an order produced exactly the row changes (and so the events) the application promises.

    Durable mode is what makes this easy: changes wait in the source's journal until a listener reads
    them, so the test can act first and collect the events afterwards with -MaxEvents.

    Needs: a test database in the libpq variables (PGHOST, PGPORT, PGDATABASE, PGUSER, and PGPASSWORD or
    ~/.pgpass), which both the module and psql read, and the application under test. Here the "application"
    is psql; replace Invoke-PlaceOrder with your app's CLI or API call.
#>

BeforeAll {
    Import-Module PostgresSource

    function Invoke-AppSql([string] $Sql) {
        # psql reads the same PG* variables as the module: no connection string, no password on a command line.
        & psql -X -v ON_ERROR_STOP=1 -q -c $Sql
        if ($LASTEXITCODE -ne 0) { throw "psql failed with exit code $LASTEXITCODE" }
    }

    function Invoke-PlaceOrder {
        param([int] $Id, [string] $Item, [int] $Qty)
        # Stand-in for the application: one INSERT into orders, one UPDATE of stock.
        Invoke-AppSql "INSERT INTO orders (id, item, qty) VALUES ($Id, '$Item', $Qty); UPDATE stock SET qty = qty - $Qty WHERE item = '$Item';"
    }

    # The application's schema; a real test database would already have it.
    Invoke-AppSql "CREATE TABLE IF NOT EXISTS orders (id int PRIMARY KEY, item text NOT NULL, qty int NOT NULL);
                   CREATE TABLE IF NOT EXISTS stock (item text PRIMARY KEY, qty int NOT NULL);
                   DELETE FROM orders WHERE id = 4711;
                   INSERT INTO stock VALUES ('widget', 100) ON CONFLICT (item) DO UPDATE SET qty = 100;"

    $script:source = New-PgSource -Name app-writes -Table orders, stock -Mode Durable
    $script:source | Install-PgSourceTrigger -Confirm:$false | Out-Null

    # Start from an empty journal: read (and acknowledge) whatever earlier runs left behind.
    $script:source | Start-PgSourceListener -Timeout 2 -MaxEvents 1000 -ErrorAction SilentlyContinue | Out-Null
}

AfterAll {
    $script:source | Uninstall-PgSourceTrigger -Confirm:$false | Out-Null
}

Describe 'Placing an order' {
    It 'inserts the order and decrements the stock, and nothing else' {
        Invoke-PlaceOrder -Id 4711 -Item 'widget' -Qty 3

        $events = @($script:source | Start-PgSourceListener -MaxEvents 2 -Timeout 10)

        $events.Count | Should -Be 2
        $events[0].Operation | Should -Be 'INSERT'
        $events[0].Subject | Should -Be 'public.orders'
        $events[0].Data.id | Should -Be 4711
        $events[1].Operation | Should -Be 'UPDATE'
        $events[1].Subject | Should -Be 'public.stock'

        # No further change arrives.
        @($script:source | Start-PgSourceListener -MaxEvents 1 -Timeout 2 -ErrorAction SilentlyContinue).Count | Should -Be 0
    }
}
