#requires -Version 7.4
#requires -Modules PostgresSource
<#
.SYNOPSIS
    Moves sources of the Knative Eventing "postgressource" (the seed) to PostgresSource.

.DESCRIPTION
    The seed's YAML loads unchanged: Import-PgSource reads every PostgresSource in it (other kinds, such as the
    Secret, are skipped with a warning) and Sync-PgSourceCluster puts them into the cluster.

    Before running it, stop the seed's controller (scale its controller Deployment in the knative-sources
    namespace to 0). Do not delete the seed's config: that would delete its CRD and every PostgresSource with it.

    What carries over:
    - Each PostgresSource keeps its name and UID, so its database function, triggers and NOTIFY channel keep
      their names (the same ChildName rule), and the adapter finds what the seed installed.
    - The Secret named in spec.secret (key connectionstr) is used as it is.
    - The seed's per-source objects have the same names as the new ones; -Force lets server-side apply take over
      the fields the seed's controller owned, instead of stopping at a conflict.
    - A sink ref to eventing.knative.dev/v1beta1 (as in the seed's README) resolves through the Broker version the
      cluster serves, with a warning. Update the YAML to eventing.knative.dev/v1 when convenient.
    - The seed's CRD (apiextensions.k8s.io/v1beta1, no schema) is left alone if it is still installed. Export the
      new one with: Export-PgSourceManifest -IncludeCrd | kubectl apply -f -

.EXAMPLE
    ./migrate-from-seed.ps1 -Path ./config/postgressource.yaml -Context prod -Preview

.EXAMPLE
    ./migrate-from-seed.ps1 -Path ./config/postgressource.yaml -Context prod
#>
[CmdletBinding()]
param(
    # The seed's YAML: one or more PostgresSource resources (a Secret in the same file is skipped).
    [Parameter(Mandatory)]
    [string] $Path,

    # The kubeconfig context of the cluster; default: the current context.
    [string] $Context,

    # The kubeconfig file; default: KUBECONFIG, then ~/.kube/config.
    [string] $Kubeconfig,

    # The receive adapter image; default: the one matching the module version.
    [string] $Image,

    # Only show what would be created or changed.
    [switch] $Preview
)

$cluster = @{}
if ($Context) { $cluster.Context = $Context }
if ($Kubeconfig) { $cluster.Kubeconfig = $Kubeconfig }
if ($Image) { $cluster.Image = $Image }

# 1. Read the seed's sources, exactly as written for the seed.
$sources = Import-PgSource -Path $Path -ErrorAction Stop
if (-not $sources) {
    throw "No PostgresSource found in $Path."
}

# 2. Preview: reads the cluster, writes nothing.
if ($Preview) {
    $sources | Sync-PgSourceCluster @cluster -WhatIf
    return
}

# 3. Apply. -Force takes over the fields the seed's controller managed on the objects of the same names.
$changes = $sources | Sync-PgSourceCluster @cluster -Force -Confirm:$false
$changes | Where-Object Changed

# 4. The status tells whether each source found its sink; run the script again later to see the adapters Ready.
$changes | Where-Object { $_.Subresource -eq 'status' } | ForEach-Object {
    Write-Verbose "$($_.Source): $($_.Message)"
}
