using System.Text.Json.Nodes;
using k8s;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Core.Diagnostics;
using PostgresSource.Kubernetes;
using PostgresSource.Kubernetes.Manifests;
using PostgresSource.Core.Sources;

namespace PostgresSource.Kubernetes.Tests;

public sealed class ManifestExportTests
{
    private const string Password = "s3cret-Pa55";
    private const string Uid = "d049318d-72c6-45e3-b8be-b0d4a38e82ad";

    private static SourceDefinition Offline(string name = "orders") => SyncHarness.Source(name) with
    {
        Connection = ConnectionSettings.Parse($"postgres://app:{Password}@db.example:5432/shop"),
    };

    private static string Yaml(ManifestExporter.Result result, IReadOnlyList<SourceDefinition> sources) =>
        ManifestYaml.Write(result.Documents, ManifestExporter.Header(sources));

    [Fact]
    public void ExportedYamlParsesAndEveryObjectMatchesItsKindsSchema()
    {
        var delivery = new SourceDelivery
        {
            OnUndeliverable = PostgresSource.Core.Delivery.UndeliverableAction.Skip,
            Ordering = PostgresSource.Core.Delivery.DeliveryOrder.Key,
            MaxInFlight = 8,
            Retry = 3,
            RetryTime = TimeSpan.FromMinutes(10),
            DeadLetterSink = SinkReference.FromUri(new Uri("http://dead-letters.default.svc.cluster.local/")),
        };
        var sources = new[] { Offline("orders"), Offline("invoices") with { Uid = Uid, ServiceAccountName = "custom", Delivery = delivery } };
        var result = ManifestExporter.Export(sources, new ExportOptions { IncludeCrd = true, IncludeClusterRole = true, IncludeSecret = true });
        Assert.Empty(result.Errors);
        var yaml = Yaml(result, sources);

        var documents = ManifestYaml.Read(yaml);
        Assert.Equal(result.Documents.Count, documents.Count);
        Assert.Equal(
            ["CustomResourceDefinition", "ClusterRole",
             "Secret", "PostgresSource", "ServiceAccount", "RoleBinding", "Deployment",
             "Secret", "PostgresSource", "RoleBinding", "Deployment"],
            documents.Select(d => (string?)d!["kind"]));

        // Built-in kinds: a strict typed round trip through the client's models loses and adds nothing.
        var texts = yaml.Split("---\n").Skip(1).ToList();
        Assert.Equal(documents.Count, texts.Count);
        var typed = new List<object>();
        for (var i = 0; i < texts.Count; i++)
        {
            if ((string?)documents[i]!["kind"] == "PostgresSource")
            {
                continue;
            }
            var loaded = Assert.Single(KubernetesYaml.LoadAllFromString(texts[i], strict: true));
            typed.Add(loaded);
            Assert.True(JsonTree.DeepEquals(documents[i], JsonTree.ToJson(loaded)),
                $"{documents[i]!["kind"]}: {documents[i]!.ToJsonString()}\n!=\n{JsonTree.ToJson(loaded).ToJsonString()}");
        }
        Assert.Equal(9, typed.Count);

        // The custom resource: its own CRD's schema.
        var crdSchema = JsonTree.ToJson(typed.OfType<k8s.Models.V1CustomResourceDefinition>().Single().Spec.Versions[0].Schema.OpenAPIV3Schema);
        foreach (var resource in documents.Where(d => (string?)d!["kind"] == "PostgresSource"))
        {
            Assert.Empty(StructuralSchema.Validate(resource, crdSchema));
        }

        // And Import-PgSource reads the exported sources back.
        var imported = SourceManifestReader.Read(yaml, "export.yaml");
        Assert.Empty(imported.Errors);
        Assert.Equal(["orders", "invoices"], imported.Sources.Select(s => s.Name));
        Assert.Null(imported.Sources[0].Delivery);
        Assert.Equal(delivery, imported.Sources[1].Delivery);
    }

    [Fact]
    public void OfflineExportUsesNamesWithoutUidNoOwnerReferencesAndNoPassword()
    {
        var sources = new[] { Offline() };
        var result = ManifestExporter.Export(sources, new ExportOptions());
        var yaml = Yaml(result, sources);

        Assert.DoesNotContain(Password, yaml);
        Assert.DoesNotContain("kind: Secret", yaml);
        Assert.DoesNotContain("ownerReferences", yaml);
        Assert.Contains("never in a cluster", yaml);
        foreach (var document in result.Documents.Where(d => (string?)d["kind"] is "ServiceAccount" or "RoleBinding" or "Deployment"))
        {
            Assert.Equal("postgressource-orders", (string?)document["metadata"]!["name"]);
        }
        var env = result.Documents.Single(d => (string?)d["kind"] == "Deployment")["spec"]!["template"]!["spec"]!["containers"]![0]!["env"]!.AsArray();
        Assert.Equal("postgressource_orders", (string?)env.First(e => (string?)e!["name"] == "NOTIFICATION_CHANNEL")!["value"]);
        Assert.DoesNotContain(env, e => (string?)e!["name"] == "PGSOURCE_UID");
    }

    [Fact]
    public void ASourceWithoutASinkTakesTheExportsSinkUriAsItsSpecSink()
    {
        // New-PgSource without -Sink, exported with -SinkUri: the resource must still fit the schema (spec.sink is required).
        var sinkless = Offline() with { Sink = null };
        var result = ManifestExporter.Export([sinkless], new ExportOptions { SinkUri = "http://broker-ingress.knative-eventing.svc.cluster.local/shop/default" });

        Assert.Empty(result.Errors);
        var resource = result.Documents.Single(d => (string?)d["kind"] == "PostgresSource");
        Assert.Equal("http://broker-ingress.knative-eventing.svc.cluster.local/shop/default", (string?)resource["spec"]!["sink"]!["uri"]);
        var env = result.Documents.Single(d => (string?)d["kind"] == "Deployment")["spec"]!["template"]!["spec"]!["containers"]![0]!["env"]!.AsArray();
        Assert.Equal("http://broker-ingress.knative-eventing.svc.cluster.local/shop/default", (string?)env.First(e => (string?)e!["name"] == "K_SINK")!["value"]);

        var without = ManifestExporter.Export([sinkless], new ExportOptions());
        Assert.Contains("spec.sink", Assert.Single(without.Errors).Item2.Message);
    }

    [Fact]
    public void ExportWithAUidUsesTheClusterNamesAndOwnerReferences()
    {
        var result = ManifestExporter.Export([Offline() with { Uid = Uid }], new ExportOptions());
        var deployment = result.Documents.Single(d => (string?)d["kind"] == "Deployment");
        Assert.Equal("postgressource-orders-" + Uid, (string?)deployment["metadata"]!["name"]);
        Assert.Equal(Uid, (string?)deployment["metadata"]!["ownerReferences"]![0]!["uid"]);
        // The UID is the cluster's to assign: it is not written into the resource.
        Assert.Null(result.Documents.Single(d => (string?)d["kind"] == "PostgresSource")["metadata"]!["uid"]);
    }

    [Fact]
    public void SecretOnlyWhenAskedAndThenWithTheGivenConnection()
    {
        var explicitConnection = ManifestExporter.Export([Offline()], new ExportOptions { SecretConnectionString = "postgres://other:pw2@db2/x" });
        var secret = explicitConnection.Documents.Single(d => (string?)d["kind"] == "Secret");
        Assert.Equal("sql-secret", (string?)secret["metadata"]!["name"]);
        Assert.Equal("postgres://other:pw2@db2/x", (string?)secret["stringData"]!["connectionstr"]);
        Assert.DoesNotContain(Password, ManifestYaml.Write(explicitConnection.Documents));

        var credential = ManifestExporter.Export([Offline()], new ExportOptions { SecretCredential = ("reader", "pw3") });
        var text = (string)credential.Documents.Single(d => (string?)d["kind"] == "Secret")["stringData"]!["connectionstr"]!;
        Assert.Contains("Host=db.example", text);
        Assert.Contains("Username=reader", text);
        Assert.Contains("Password=pw3", text);
        Assert.DoesNotContain(Password, text);

        var none = ManifestExporter.Export([SyncHarness.Source()], new ExportOptions { IncludeSecret = true });
        var (_, error) = Assert.Single(none.Errors);
        Assert.Contains("no connection to put into its Secret", error.Message);
    }

    [Fact]
    public void SinksResolveOfflineOrSayWhyNot()
    {
        var broker = ManifestExporter.Export([SyncHarness.Source(sink: SyncHarness.BrokerRef())], new ExportOptions());
        Assert.Empty(broker.Errors);
        Assert.Contains(broker.Warnings, w => w.Contains("broker-ingress.knative-eventing.svc.cluster.local/default/default"));

        var channel = ManifestExporter.Export([SyncHarness.Source(sink: new SinkReference { RefApiVersion = "messaging.knative.dev/v1", RefKind = "Channel", RefName = "c" })], new ExportOptions());
        var (source, error) = Assert.Single(channel.Errors);
        Assert.Equal("default/orders", source);
        Assert.Contains("cannot be resolved without a cluster: its URL has to be given", error.Message);
        Assert.Equal(Remedy.GiveSinkUri, Assert.IsType<SinkResolutionException>(error).Remedy);

        var overridden = ManifestExporter.Export([SyncHarness.Source(sink: new SinkReference { RefApiVersion = "messaging.knative.dev/v1", RefKind = "Channel", RefName = "c" })],
            new ExportOptions { SinkUri = "http://c-kn-channel.default.svc.cluster.local" });
        Assert.Empty(overridden.Errors);
    }

    [Theory]
    [InlineData("orders", null, "orders")]
    [InlineData("Big Orders", "sales", "sales.Big Orders")]
    [InlineData("a.b", null, "\"a.b\"")]
    [InlineData("say \"hi\"", "s", "s.\"say \"\"hi\"\"\"")]
    [InlineData("x,y", null, "\"x,y\"")]
    public void TableTextReadsBackTheSame(string name, string? schema, string expected)
    {
        var table = new TableName(schema, name);
        var text = table.ToText();
        Assert.Equal(expected, text);
        Assert.Equal(table, TableName.Parse(text));
    }
}
