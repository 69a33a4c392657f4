<#
    PostgresSource YAML as users write it (the seed README's format), for the tests that import, export or sync it.
#>
Set-StrictMode -Version Latest

# The Secret the seed's README applies next to its source; its password must never reach any output.
$script:seedSecret = @'
apiVersion: v1
kind: Secret
metadata:
  name: sql-secret
  namespace: default
stringData:
  connectionstr: postgres://foobar:really@127.0.0.1:5432/users
---
'@

function Get-SourceYaml {
    <# One PostgresSource; its sink is -SinkUri, or else the default Broker by -BrokerApiVersion. -WithSeedSecret puts the seed's Secret first. #>
    param(
        [Parameter(Mandatory)] [string] $Name,
        [string] $Namespace = 'default',
        [string] $Table = 'orders',
        [string] $SinkUri,
        [string] $BrokerApiVersion = 'eventing.knative.dev/v1',
        [switch] $WithSeedSecret
    )
    $sink = if ($SinkUri) { "    uri: $SinkUri" } else { "    ref:`n      apiVersion: $BrokerApiVersion`n      kind: Broker`n      name: default" }
    $source = @"
apiVersion: sources.vaikas.dev/v1alpha1
kind: PostgresSource
metadata:
  name: $Name
  namespace: $Namespace
spec:
  tables:
  - name: $Table
  secret:
    name: sql-secret
  sink:
$sink
"@
    if ($WithSeedSecret) { $script:seedSecret + "`n" + $source } else { $source }
}

Export-ModuleMember -Function Get-SourceYaml
