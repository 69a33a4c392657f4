#requires -Version 7.4
#requires -Modules PostgresSource
<#
.SYNOPSIS
    Writes PostgresSource manifests into a GitOps folder (Argo CD, Flux, or kubectl apply -k).

.DESCRIPTION
    Reads every PostgresSource YAML file in a folder (the seed's format), and writes:
    - cluster.yaml:   the CustomResourceDefinition and the adapter ClusterRole (cluster-scoped; apply once,
                      usually by a platform team),
    - sources.yaml:   per source the PostgresSource, ServiceAccount, RoleBinding and adapter Deployment,
    - kustomization.yaml listing both.

    No cluster is needed. Sources that have never been in a cluster have no UID, so their objects are named
    postgressource-<name> and have no owner references (the file header says so). No password is written: each
    source's Secret (key connectionstr) must exist in the cluster, for example from a sealed or external secret.

.EXAMPLE
    ./gitops-export.ps1 -SourcePath ./sources -OutputPath ./gitops/postgressource -Namespace shop
#>
[CmdletBinding()]
param(
    # The folder with PostgresSource YAML files.
    [Parameter(Mandatory)]
    [string] $SourcePath,

    # The GitOps folder to write.
    [Parameter(Mandatory)]
    [string] $OutputPath,

    # Put every source into this namespace.
    [string] $Namespace,

    # The receive adapter image; default: the one matching the module version.
    [string] $Image
)

$export = @{}
if ($Namespace) { $export.Namespace = $Namespace }
if ($Image) { $export.Image = $Image }

$files = Get-ChildItem -Path $SourcePath -Filter *.yaml -File
$sources = $files | Import-PgSource -ErrorAction Stop

Export-PgSourceManifest -IncludeCrd -IncludeClusterRole -Path (Join-Path $OutputPath 'cluster.yaml') -Force -Confirm:$false
$sources | Export-PgSourceManifest @export -Path (Join-Path $OutputPath 'sources.yaml') -Force -Confirm:$false

Set-Content -Path (Join-Path $OutputPath 'kustomization.yaml') -Value @'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- cluster.yaml
- sources.yaml
'@
