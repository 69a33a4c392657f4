using System.Collections;
using System.Management.Automation;
using PostgresSource.TestSupport;

namespace PostgresSource.PowerShell.Tests;

/// <summary>
/// Export-PgSourceManifest and Sync-PgSourceCluster through the built module, as a user runs them, against the
/// in-process fake Kubernetes API server (a generated kubeconfig points at it).
/// </summary>
public sealed class ClusterCmdletTests : IDisposable
{
    private const string Password = "s3cret-Pa55";
    private const string NewOrders = "New-PgSource -Name orders -Table public.orders,items -Sink http://receiver.default.svc.cluster.local/ -SecretName sql-secret";

    private readonly FakeKubernetesApiServer _server = new();
    private readonly string _directory = Directory.CreateTempSubdirectory("pgsource-cluster-").FullName;
    private readonly string _kubeconfig;

    public ClusterCmdletTests() => _kubeconfig = _server.WriteKubeconfig(_directory);

    public void Dispose()
    {
        _server.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private Hashtable Vars(object? extra = null) => new() { ["kc"] = _kubeconfig, ["dir"] = _directory, ["pw"] = Password, ["x"] = extra };

    /// <summary>A statement-terminating error (ThrowTerminatingError) lands in the error stream of a script.</summary>
    /// <summary>The seed's PostgresSource YAML with another sink reference, written to a file.</summary>
    private string WriteSeedSourceWithSinkRef(string fileName, string apiVersion, string kind, string name)
    {
        var path = Path.Combine(_directory, fileName);
        File.WriteAllText(path, SeedManifests.SourceWithSinkRef(apiVersion, kind, name));
        return path;
    }

    private static ErrorRecord OnlyError(PowerShellSession.Result result) =>
        result.Terminating is IContainsErrorRecord terminating ? terminating.ErrorRecord : Assert.Single(result.Errors);

    private static IReadOnlyList<string> Rows(PowerShellSession.Result result) =>
        result.Output.Select(o => $"{o.Properties["Kind"].Value}{(o.Properties["Subresource"].Value is string s ? "/" + s : "")} {o.Properties["Action"].Value}").ToList();

    [Fact]
    public void SyncCreatesEverythingThenReportsNoChange()
    {
        using var ps = PowerShellSession.Open();

        var first = ps.Run($"{NewOrders} | Sync-PgSourceCluster -Kubeconfig $kc -Confirm:$false", Vars());
        Assert.Empty(first.Errors);
        Assert.Null(first.Terminating);
        Assert.Equal(
        [
            "CustomResourceDefinition Created", "ClusterRole Created", "PostgresSource Created", "PostgresSource/status Created",
            "ServiceAccount Created", "RoleBinding Created", "Deployment Created",
        ], Rows(first));
        Assert.Equal("PostgresSource.PowerShell.PgSourceClusterChange", first.Output[0].BaseObject.GetType().FullName);
        Assert.All(first.Output, o => Assert.Equal(true, o.Properties["Changed"].Value));
        Assert.Equal(7, _server.Writes.Count);
        Assert.Empty(_server.Violations);

        _server.ClearRequests();
        var second = ps.Run($"{NewOrders} | Sync-PgSourceCluster -Kubeconfig $kc -Confirm:$false", Vars());
        Assert.Empty(second.Errors);
        Assert.All(second.Output, o => Assert.Equal("Unchanged", o.Properties["Action"].Value.ToString()));
        Assert.Empty(_server.Writes);
    }

    [Fact]
    public void WhatIfSendsNoWrite()
    {
        using var ps = PowerShellSession.Open();

        var whatIf = ps.Run($"{NewOrders} | Sync-PgSourceCluster -Kubeconfig $kc -WhatIf", Vars());

        Assert.Empty(whatIf.Errors);
        Assert.Empty(_server.Writes);
        Assert.Equal(7, whatIf.Output.Count);
        Assert.All(whatIf.Output, o => Assert.Equal("WouldCreate", o.Properties["Action"].Value.ToString()));
    }

    [Fact]
    public void SeedYamlMigratesThroughImportPgSource()
    {
        _server.Seed(new System.Text.Json.Nodes.JsonObject
        {
            ["apiVersion"] = "eventing.knative.dev/v1", ["kind"] = "Broker",
            ["metadata"] = new System.Text.Json.Nodes.JsonObject { ["name"] = "default", ["namespace"] = "default" },
            ["status"] = new System.Text.Json.Nodes.JsonObject { ["address"] = new System.Text.Json.Nodes.JsonObject { ["url"] = "http://broker-ingress.knative-eventing.svc.cluster.local/default/default" } },
        });
        var seed = Path.Combine(_directory, "seed.yaml");
        File.WriteAllText(seed, SeedManifests.SecretAndSource);
        using var ps = PowerShellSession.Open();

        var result = ps.Run("Import-PgSource -Path $x | Sync-PgSourceCluster -Kubeconfig $kc -Confirm:$false", Vars(seed));

        Assert.Empty(result.Errors);
        Assert.Contains(result.Warnings, w => w.Contains("eventing.knative.dev/v1beta1"));
        Assert.DoesNotContain("really", PowerShellSession.AllText(result));
        var resource = _server.Find("sources.vaikas.dev", "postgressources", "default", "vaikaspostgres")!;
        Assert.Equal("eventing.knative.dev/v1beta1", (string?)resource["spec"]!["sink"]!["ref"]!["apiVersion"]);
        Assert.Equal("http://broker-ingress.knative-eventing.svc.cluster.local/default/default", (string?)resource["status"]!["sinkUri"]);
    }

    [Fact]
    public void PruneDeletesSourcesNoLongerGiven()
    {
        using var ps = PowerShellSession.Open();
        Assert.Empty(ps.Run($"@(({NewOrders}), ({NewOrders.Replace("orders -Table", "invoices -Table")})) | Sync-PgSourceCluster -Kubeconfig $kc -Confirm:$false", Vars()).Errors);

        var pruned = ps.Run($"{NewOrders} | Sync-PgSourceCluster -Kubeconfig $kc -Prune -Confirm:$false | Where-Object Action -eq Deleted", Vars());

        Assert.Empty(pruned.Errors);
        Assert.Equal(["Deployment Deleted", "RoleBinding Deleted", "ServiceAccount Deleted", "PostgresSource Deleted"], Rows(pruned));
        Assert.All(pruned.Output, o => Assert.Equal("default/invoices", o.Properties["Source"].Value));
        Assert.NotNull(_server.Find("sources.vaikas.dev", "postgressources", "default", "orders"));
    }

    [Fact]
    public void ForbiddenIsAnErrorRecordNamingVerbAndResource()
    {
        _server.Intercept = r => r.Method == "PATCH" && r.Path.Contains("/deployments/", StringComparison.Ordinal)
            ? FakeKubernetesApiServer.Forbidden("patch", "deployments", "apps", "default", r.Path.Split('/')[^1])
            : null;
        using var ps = PowerShellSession.Open();

        var result = ps.Run($"{NewOrders} | Sync-PgSourceCluster -Kubeconfig $kc -Confirm:$false", Vars());

        var error = Assert.Single(result.Errors);
        Assert.True(error.FullyQualifiedErrorId.StartsWith("PgSource.ClusterForbidden", StringComparison.Ordinal), error.Exception.ToString());
        Assert.Equal("PgSource.ClusterForbidden,PostgresSource.PowerShell.Cmdlets.SyncPgSourceClusterCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.PermissionDenied, error.CategoryInfo.Category);
        Assert.Equal("orders", ((dynamic)error.TargetObject).Name);
        Assert.Contains("patch deployments.apps", error.Exception.Message);
        Assert.Contains("RBAC permission", error.ErrorDetails?.RecommendedAction);
    }

    [Fact]
    public void UnresolvableSinkIsAnErrorRecord()
    {
        using var ps = PowerShellSession.Open();
        var source = WriteSeedSourceWithSinkRef("broker.yaml", "eventing.knative.dev/v1", "Broker", "missing");

        var result = ps.Run("Import-PgSource -Path $x | Sync-PgSourceCluster -Kubeconfig $kc -Confirm:$false", Vars(source));

        var error = Assert.Single(result.Errors);
        Assert.Equal("PgSource.SinkNotResolved,PostgresSource.PowerShell.Cmdlets.SyncPgSourceClusterCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ObjectNotFound, error.CategoryInfo.Category);
        Assert.Contains("Broker default/missing", error.Exception.Message);
        Assert.DoesNotContain(result.Output, o => o.Properties["Kind"].Value is "Deployment");
    }

    [Fact]
    public void UnreachableClusterAndBadContextAreTerminatingErrorsWithStableIds()
    {
        using var ps = PowerShellSession.Open();

        var badContext = ps.Run($"{NewOrders} | Sync-PgSourceCluster -Kubeconfig $kc -Context nowhere -Confirm:$false", Vars());
        var contextError = OnlyError(badContext);
        Assert.Equal("PgSource.KubeconfigInvalid,PostgresSource.PowerShell.Cmdlets.SyncPgSourceClusterCommand", contextError.FullyQualifiedErrorId);
        Assert.Contains("fake, shop", contextError.Exception.Message);

        _server.Dispose();
        var unreachable = ps.Run($"{NewOrders} | Sync-PgSourceCluster -Kubeconfig $kc -Confirm:$false", Vars());
        var error = OnlyError(unreachable);
        Assert.Empty(unreachable.Output);
        Assert.Equal("PgSource.ClusterUnreachable,PostgresSource.PowerShell.Cmdlets.SyncPgSourceClusterCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ConnectionError, error.CategoryInfo.Category);
        Assert.StartsWith("Cannot reach the Kubernetes API server at http://127.0.0.1:", error.Exception.Message);
    }

    [Fact]
    public void ContextCompletesFromTheKubeconfig()
    {
        using var ps = PowerShellSession.Open();
        var script = "Sync-PgSourceCluster -Kubeconfig '" + _kubeconfig + "' -Context ";
        var result = ps.Run("(TabExpansion2 -inputScript $x -cursorColumn $x.Length).CompletionMatches | ForEach-Object CompletionText", Vars(script));
        Assert.Equal(["fake", "shop"], result.Output.Select(o => o.ToString()));
    }

    [Fact]
    public void ExportWritesYamlWithoutPasswordsUnlessASecretIsAsked()
    {
        using var ps = PowerShellSession.Open();
        var withConnection = "New-PgSource -Name orders -Table public.orders -Sink http://receiver.default.svc.cluster.local/ -SecretName sql-secret -ConnectionString \"postgres://app:$pw@db.example/shop\"";

        var plain = ps.Run($"{withConnection} | Export-PgSourceManifest -IncludeCrd", Vars());
        Assert.Empty(plain.Errors);
        var yaml = (string)Assert.Single(plain.Output).BaseObject;
        Assert.Contains("kind: CustomResourceDefinition", yaml);
        Assert.Contains("kind: Deployment", yaml);
        Assert.Contains("name: postgressource-orders\n", yaml);
        Assert.DoesNotContain(Password, PowerShellSession.AllText(plain));
        Assert.DoesNotContain("kind: Secret", yaml);

        var secret = ps.Run($"{withConnection} | Export-PgSourceManifest -IncludeSecret", Vars());
        Assert.Contains("kind: Secret", (string)secret.Output[0].BaseObject);
        Assert.Contains(Password, (string)secret.Output[0].BaseObject);

        var file = Path.Combine(_directory, "out.yaml");
        var written = ps.Run($"{withConnection} | Export-PgSourceManifest -Path $x", Vars(file));
        Assert.Empty(written.Errors);
        Assert.IsType<FileInfo>(Assert.Single(written.Output).BaseObject);
        var text = File.ReadAllText(file);
        Assert.Contains("kind: Deployment", text);
        Assert.DoesNotContain("kind: CustomResourceDefinition", text);
        Assert.DoesNotContain(Password, text);

        var again = ps.Run($"{withConnection} | Export-PgSourceManifest -Path $x", Vars(file));
        var exists = OnlyError(again);
        Assert.Equal("PgSource.FileExists,PostgresSource.PowerShell.Cmdlets.ExportPgSourceManifestCommand", exists.FullyQualifiedErrorId);
        Assert.Empty(ps.Run($"{withConnection} | Export-PgSourceManifest -Path $x -Force", Vars(file)).Errors);
    }

    [Fact]
    public void ExportOfASinkThatNeedsAClusterIsAnErrorRecord()
    {
        using var ps = PowerShellSession.Open();
        var path = WriteSeedSourceWithSinkRef("channel.yaml", "messaging.knative.dev/v1", "Channel", "events");

        var result = ps.Run("Import-PgSource -Path $x | Export-PgSourceManifest", Vars(path));
        var error = Assert.Single(result.Errors);
        Assert.Equal("PgSource.SinkNotResolved,PostgresSource.PowerShell.Cmdlets.ExportPgSourceManifestCommand", error.FullyQualifiedErrorId);
        Assert.Empty(result.Output);

        var overridden = ps.Run("Import-PgSource -Path $x | Export-PgSourceManifest -SinkUri http://events-kn-channel.default.svc.cluster.local", Vars(path));
        Assert.Empty(overridden.Errors);
        Assert.Contains("value: http://events-kn-channel.default.svc.cluster.local", (string)overridden.Output[0].BaseObject);
    }
    [Fact]
    public void ExportControllerWritesTheCheckedInInstallation()
    {
        using var ps = PowerShellSession.Open();

        var result = ps.Run("Export-PgSourceManifest -Controller", Vars());
        Assert.Empty(result.Errors);
        var yaml = (string)Assert.Single(result.Output).BaseObject;
        // deploy/controller.yaml is this output (ControllerInstallTests keeps the exporter and the file equal).
        Assert.Equal(File.ReadAllText(Path.Combine(ModuleLayout.RepositoryRoot, "deploy", "controller.yaml")).ReplaceLineEndings("\n"), yaml);

        var images = ps.Run($"{NewOrders} | Export-PgSourceManifest -Controller -ControllerImage example.test/c:1 -Image example.test/a:1", Vars());
        Assert.Empty(images.Errors);
        var both = (string)Assert.Single(images.Output).BaseObject;
        Assert.Contains("image: example.test/c:1\n", both);
        Assert.Contains("value: example.test/a:1\n", both); // PGSOURCE_ADAPTER_IMAGE
        Assert.Contains("name: postgressource-orders\n", both);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(both, "kind: CustomResourceDefinition"));
    }

    [Fact]
    public void SyncInstallControllerAppliesTheInstallationOnceAndHonoursWhatIf()
    {
        using var ps = PowerShellSession.Open();

        var whatIf = ps.Run("Sync-PgSourceCluster -InstallController -Kubeconfig $kc -WhatIf", Vars());
        Assert.Empty(whatIf.Errors);
        Assert.Empty(_server.Writes);
        Assert.Equal(10, whatIf.Output.Count);
        Assert.All(whatIf.Output, o => Assert.Equal("WouldCreate", o.Properties["Action"].Value.ToString()));

        var first = ps.Run($"{NewOrders} | Sync-PgSourceCluster -InstallController -Kubeconfig $kc -Confirm:$false", Vars());
        Assert.Empty(first.Errors);
        Assert.Null(first.Terminating);
        Assert.Equal(
        [
            "Namespace Created", "CustomResourceDefinition Created", "ClusterRole Created", "ClusterRole Created", "ClusterRole Created",
            "ServiceAccount Created", "ClusterRoleBinding Created", "Role Created", "RoleBinding Created", "Deployment Created",
            "PostgresSource Created", "PostgresSource/status Created", "ServiceAccount Created", "RoleBinding Created", "Deployment Created",
        ], Rows(first));
        Assert.Empty(_server.Violations);

        _server.ClearRequests();
        var second = ps.Run("Sync-PgSourceCluster -InstallController -Kubeconfig $kc -Confirm:$false", Vars());
        Assert.Empty(second.Errors);
        Assert.All(second.Output, o => Assert.Equal("Unchanged", o.Properties["Action"].Value.ToString()));
        Assert.Empty(_server.Writes);

        // -SkipClusterResources belongs to the other parameter set.
        var both = ps.Run("Sync-PgSourceCluster -InstallController -SkipClusterResources -Kubeconfig $kc -WhatIf", Vars());
        Assert.Equal("AmbiguousParameterSet,PostgresSource.PowerShell.Cmdlets.SyncPgSourceClusterCommand", OnlyError(both).FullyQualifiedErrorId);
    }
}
