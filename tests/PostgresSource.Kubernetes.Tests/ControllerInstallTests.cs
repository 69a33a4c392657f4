using System.Text.Json.Nodes;
using System.Xml.Linq;
using PostgresSource.Kubernetes.Manifests;
using PostgresSource.TestSupport;

namespace PostgresSource.Kubernetes.Tests;

/// <summary>
/// The controller's installation: the exported objects and their order, deploy/controller.yaml kept equal to them,
/// Sync-PgSourceCluster -InstallController against the fake API server, and the Dockerfile.
/// </summary>
public sealed class ControllerInstallTests : IDisposable
{
    /// <summary>How to bring deploy/controller.yaml up to date (also in docs/controller-install.md).</summary>
    public const string Regenerate =
        "Regenerate it: dotnet pwsh ./build.ps1 -Task Manifests (after a build), or set PGSOURCE_WRITE_DEPLOY=1 and run this test again.";

    private readonly SyncHarness _harness = new();

    private FakeKubernetesApiServer Server => _harness.Server;

    public void Dispose() => _harness.Dispose();

    private static readonly string[] ApplyOrder =
    [
        "Namespace postgressource-system",
        "CustomResourceDefinition postgressources.sources.vaikas.dev",
        "ClusterRole postgressource-adapter",
        "ClusterRole postgressource-source-observer",
        "ClusterRole postgressource-controller",
        "ServiceAccount postgressource-system/postgressource-controller",
        "ClusterRoleBinding postgressource-controller",
        "Role postgressource-system/postgressource-controller-leader-election",
        "RoleBinding postgressource-system/postgressource-controller-leader-election",
        "Deployment postgressource-system/postgressource-controller",
    ];

    private static string Describe(JsonObject item) =>
        $"{JsonTree.GetString(item, "kind")} " +
        (JsonTree.GetString(item, "metadata", "namespace") is { } ns ? ns + "/" : string.Empty) + JsonTree.GetString(item, "metadata", "name");

    public static string ExportedYaml() =>
        ManifestYaml.Write(ManifestExporter.Export([], new ExportOptions { Controller = true }).Documents, ManifestExporter.Header([], controller: true));

    [Fact]
    public void ExportWritesTheInstallationInApplyOrderBeforeTheSources()
    {
        var result = ManifestExporter.Export([SyncHarness.Source()], new ExportOptions
        {
            Controller = true,
            IncludeCrd = true, // implied: not written twice
            IncludeClusterRole = true,
            ControllerImage = "example.test/controller:1",
            Image = "example.test/adapter:1",
        });

        Assert.Empty(result.Errors);
        Assert.Equal(ApplyOrder, result.Documents.Take(ApplyOrder.Length).Select(Describe));
        Assert.Equal(["PostgresSource", "ServiceAccount", "RoleBinding", "Deployment"], result.Documents.Skip(ApplyOrder.Length).Select(d => JsonTree.GetString(d, "kind")));

        var deployment = result.Documents[ApplyOrder.Length - 1];
        Assert.Equal(2, JsonTree.GetInt64(deployment, "spec", "replicas"));
        var pod = (JsonObject)deployment["spec"]!["template"]!["spec"]!;
        Assert.Equal(PgSourceKube.ControllerName, JsonTree.GetString(pod, "serviceAccountName"));
        Assert.Equal(true, (bool?)pod["securityContext"]!["runAsNonRoot"]);
        var container = (JsonObject)pod["containers"]![0]!;
        Assert.Equal("example.test/controller:1", JsonTree.GetString(container, "image"));
        var env = ((JsonArray)container["env"]!).OfType<JsonObject>().ToDictionary(e => JsonTree.GetString(e, "name")!);
        Assert.Equal("example.test/adapter:1", JsonTree.GetString(env["PGSOURCE_ADAPTER_IMAGE"], "value"));
        Assert.Equal("metadata.name", JsonTree.GetString(env["POD_NAME"], "valueFrom", "fieldRef", "fieldPath"));
        Assert.Equal("metadata.namespace", JsonTree.GetString(env["POD_NAMESPACE"], "valueFrom", "fieldRef", "fieldPath"));
        Assert.Equal("http", (string?)container["ports"]![0]!["name"]);
        Assert.Equal(PgSourceKube.ReadinessPath, JsonTree.GetString(container, "readinessProbe", "httpGet", "path"));
        Assert.Equal(true, (bool?)container["securityContext"]!["readOnlyRootFilesystem"]);
        Assert.Equal(false, (bool?)container["securityContext"]!["allowPrivilegeEscalation"]);
        Assert.Equal("ALL", (string?)container["securityContext"]!["capabilities"]!["drop"]![0]);
        Assert.NotNull(container["resources"]!["requests"]);
        Assert.NotNull(container["resources"]!["limits"]);

        // The pod's labels match the selector, and no controller object carries the source label -Prune selects on.
        var selector = (JsonObject)deployment["spec"]!["selector"]!["matchLabels"]!;
        var labels = (JsonObject)deployment["spec"]!["template"]!["metadata"]!["labels"]!;
        Assert.All(selector, p => Assert.Equal((string?)p.Value, (string?)labels[p.Key]));
        Assert.All(result.Documents.Take(ApplyOrder.Length).Skip(2),
            d => Assert.Null(JsonTree.GetString(d, "metadata", "labels", PgSourceKube.SourceLabel)));
        // The default images follow the module version, as the adapter's does.
        Assert.Equal("ghcr.io/postgressource/controller:" + PgSourceKube.ProductVersion, PgSourceKube.DefaultControllerImage);
    }

    [Fact]
    public void CheckedInDeployFileIsWhatTheExporterWrites()
    {
        var path = RepositoryLayout.PathOf("deploy", "controller.yaml");
        var expected = ExportedYaml();
        if (Environment.GetEnvironmentVariable("PGSOURCE_WRITE_DEPLOY") == "1")
        {
            File.WriteAllText(path, expected, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        }
        Assert.True(File.Exists(path), $"{path} is missing. {Regenerate}");
        var actual = File.ReadAllText(path).ReplaceLineEndings("\n");
        Assert.True(actual == expected, $"deploy/controller.yaml differs from Export-PgSourceManifest -Controller. {Regenerate}");

        // And it reads back as the same objects kubectl would apply.
        var documents = ManifestYaml.Read(actual).OfType<JsonObject>().ToList();
        Assert.Equal(ApplyOrder, documents.Select(Describe));
    }

    [Fact]
    public void InstallControllerCreatesEveryObjectThenChangesNothing()
    {
        var options = new SyncOptions { InstallController = true };
        var first = _harness.Sync([], options);

        Assert.True(Server.Violations.Count == 0, string.Join("\n", Server.Violations));
        Assert.Empty(first.Failures);
        Assert.Equal(ApplyOrder, first.Changes.Select(c => $"{c.Kind} {(c.Namespace is null ? c.Name : c.Namespace + "/" + c.Name)}"));
        Assert.All(first.Changes, c => Assert.Equal(ChangeAction.Created, c.Action));
        Assert.All(Server.Writes, w => Assert.Equal("PATCH", w.Method));
        Assert.NotNull(Server.Find("", "namespaces", null, PgSourceKube.ControllerNamespace));
        Assert.NotNull(Server.Find("rbac.authorization.k8s.io", "clusterrolebindings", null, PgSourceKube.ControllerName));
        Assert.NotNull(Server.Find("rbac.authorization.k8s.io", "roles", PgSourceKube.ControllerNamespace, ControllerManifests.LeaderElectionRole));
        var deployment = Server.Find("apps", "deployments", PgSourceKube.ControllerNamespace, PgSourceKube.ControllerName)!;
        Assert.Equal(PgSourceKube.DefaultControllerImage, JsonTree.GetString((JsonObject)deployment["spec"]!["template"]!["spec"]!["containers"]![0]!, "image"));

        Server.ClearRequests();
        var second = _harness.Sync([], options);
        Assert.Empty(Server.Writes);
        Assert.All(second.Changes, c => Assert.Equal(ChangeAction.Unchanged, c.Action));
        Assert.Equal(ApplyOrder.Length, second.Changes.Count);

        // A source piped along is synced after the installation, in the same run.
        Server.ClearRequests();
        var withSource = _harness.Sync([SyncHarness.Source()], options);
        Assert.Empty(withSource.Failures);
        Assert.Contains(withSource.Changes, c => c.Kind == "PostgresSource" && c.Action == ChangeAction.Created);
        Assert.Equal(ApplyOrder.Length, withSource.Changes.Count(c => c.Source is null && c.Action == ChangeAction.Unchanged));
    }

    [Fact]
    public void InstallControllerWithWhatIfWritesNothingAndSaysWhatItWouldCreate()
    {
        var observer = _harness.Sync([], new SyncOptions { InstallController = true }, Approval.WhatIf);

        Assert.Empty(Server.Writes);
        Assert.Empty(observer.Failures);
        Assert.Equal(ApplyOrder, observer.Changes.Select(c => $"{c.Kind} {(c.Namespace is null ? c.Name : c.Namespace + "/" + c.Name)}"));
        Assert.All(observer.Changes, c => Assert.Equal(ChangeAction.WouldCreate, c.Action));
    }

    [Fact]
    public void InstallControllerLeavesObjectsItDoesNotManageAlone()
    {
        Server.Seed(new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Namespace",
            ["metadata"] = new JsonObject { ["name"] = PgSourceKube.ControllerNamespace },
        });

        var observer = _harness.Sync([], new SyncOptions { InstallController = true });

        var ns = observer.Changes.First();
        Assert.Equal(("Namespace", ChangeAction.Unchanged), (ns.Kind, ns.Action));
        Assert.Contains("left as is", ns.Message);
        Assert.DoesNotContain(Server.Writes, w => w.Path.EndsWith("/namespaces/" + PgSourceKube.ControllerNamespace, StringComparison.Ordinal));
        Assert.Equal(ApplyOrder.Length - 1, observer.Changes.Count(c => c.Action == ChangeAction.Created));
    }

    [Fact]
    public void DockerfileBuildsTheControllerProjectAndRunsItsDllAsNonRoot()
    {
        var dockerfile = File.ReadAllText(RepositoryLayout.PathOf("src", "PostgresSource.Controller", "Dockerfile"));
        Assert.Contains("dotnet publish src/PostgresSource.Controller/PostgresSource.Controller.csproj", dockerfile);
        Assert.Contains("ENTRYPOINT [\"dotnet\", \"PostgresSource.Controller.dll\"]", dockerfile);
        Assert.Contains("USER $APP_UID", dockerfile);
        Assert.Contains($"EXPOSE {PgSourceKube.HttpPort}", dockerfile);
        Assert.True(File.Exists(RepositoryLayout.PathOf("src", "PostgresSource.Controller", "Dockerfile.dockerignore")));

        // Every project the controller builds from is copied into the build stage (project file first, for restore).
        foreach (var project in ProjectClosure(RepositoryLayout.PathOf("src", "PostgresSource.Controller", "PostgresSource.Controller.csproj")))
        {
            var relative = Path.GetRelativePath(RepositoryLayout.Root, project).Replace('\\', '/');
            Assert.Contains($"COPY {relative} ", dockerfile);
            Assert.Contains($"COPY {Path.GetDirectoryName(relative)!.Replace('\\', '/')}/ ", dockerfile);
        }
    }

    private static IEnumerable<string> ProjectClosure(string project)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([Path.GetFullPath(project)]);
        while (pending.TryPop(out var next))
        {
            if (!seen.Add(next))
            {
                continue;
            }
            foreach (var reference in XDocument.Load(next).Descendants("ProjectReference"))
            {
                pending.Push(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(next)!, reference.Attribute("Include")!.Value)));
            }
        }
        return seen;
    }
}
