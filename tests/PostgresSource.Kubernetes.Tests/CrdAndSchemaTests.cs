using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using PostgresSource.Kubernetes;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes.Tests;

public sealed class CrdAndSchemaTests
{
    /// <summary>The seed README's PostgresSource, byte for byte.</summary>
    internal const string SeedSource = PostgresSource.TestSupport.SeedManifests.Source;

    private static readonly JsonObject Schema = PostgresSourceCrd.SchemaJson();

    [Fact]
    public void CrdIsApiextensionsV1WithAStructuralSchema()
    {
        var crd = PostgresSourceCrd.Build();
        Assert.Equal("apiextensions.k8s.io/v1", crd.ApiVersion);
        Assert.Equal("postgressources.sources.vaikas.dev", crd.Metadata.Name);
        Assert.Equal("sources.vaikas.dev", crd.Spec.Group);
        Assert.Equal("Namespaced", crd.Spec.Scope);
        Assert.Equal("PostgresSource", crd.Spec.Names.Kind);
        Assert.Equal("postgressources", crd.Spec.Names.Plural);
        var version = Assert.Single(crd.Spec.Versions);
        Assert.Equal("v1alpha1", version.Name);
        Assert.True(version.Served);
        Assert.True(version.Storage);
        Assert.NotNull(version.Subresources.Status);
        Assert.Empty(StructuralSchema.StructuralErrors(Schema));

        var spec = Schema["properties"]!["spec"]!["properties"]!.AsObject();
        Assert.Equal(["tables", "secret", "sink", "ceOverrides", "serviceAccountName", "database", "mode", "eventType", "delivery"], spec.Select(p => p.Key));
        Assert.Equal(["Notify", "Durable", "Logical"], spec["mode"]!["enum"]!.AsArray().Select(v => (string)v!));
        var status = Schema["properties"]!["status"]!["properties"]!.AsObject();
        foreach (var field in new[] { "conditions", "sinkUri", "tableStatuses", "observedGeneration" })
        {
            Assert.True(status.ContainsKey(field), field);
        }
    }

    [Fact]
    public void CrdCarriesTheKnativeSourceConventions()
    {
        var crd = PostgresSourceCrd.Build();
        Assert.Equal(["all", "knative", "eventing", "sources"], crd.Spec.Names.Categories);
        Assert.Equal("true", crd.Metadata.Labels["eventing.knative.dev/source"]);
        Assert.Equal(["Ready", "Reason", "Sink", "Age"], crd.Spec.Versions[0].AdditionalPrinterColumns.Select(c => c.Name));
        Assert.Equal(".status.conditions[?(@.type==\"Ready\")].status", crd.Spec.Versions[0].AdditionalPrinterColumns[0].JsonPath);
        Assert.Equal(".status.sinkUri", crd.Spec.Versions[0].AdditionalPrinterColumns[2].JsonPath);
        Assert.Equal("date", crd.Spec.Versions[0].AdditionalPrinterColumns[3].Type);

        var eventTypes = JsonNode.Parse(crd.Metadata.Annotations["registry.knative.dev/eventTypes"])!.AsArray();
        Assert.Equal("dev.vaikas.postgres", (string?)Assert.Single(eventTypes)!["type"]);
    }

    [Fact]
    public void CrdRoundTripsThroughTheClientModel()
    {
        var json = JsonTree.ToJson(PostgresSourceCrd.Build());
        var typed = KubernetesJson.Deserialize<V1CustomResourceDefinition>(json.ToJsonString());
        Assert.True(JsonTree.DeepEquals(json, JsonTree.ToJson(typed)));
    }

    [Fact]
    public void SeedYamlValidatesUnchanged()
    {
        var document = Assert.Single(ManifestYaml.Read(SeedSource))!;
        Assert.Empty(StructuralSchema.Validate(document, Schema));

        // And it reads as a source whose resource is the same object again.
        var source = Assert.Single(SourceManifestReader.Read(SeedSource, "seed.yaml").Sources);
        var written = SourceObjects.CustomResource(source);
        Assert.True(JsonTree.DeepEquals(document["spec"], written["spec"]), written["spec"]!.ToJsonString());
    }

    [Fact]
    public void EveryOptionalSeedFieldAndTheNewOnesValidate()
    {
        var document = Assert.Single(ManifestYaml.Read("""
            apiVersion: sources.vaikas.dev/v1alpha1
            kind: PostgresSource
            metadata:
              name: second
              namespace: shop
            spec:
              tables:
              - name: sales.orders
              - name: '"My Schema"."Big Orders"'
              secret:
                name: sql-secret
              sink:
                ref:
                  apiVersion: v1
                  kind: Service
                  name: receiver
                  namespace: shop
                uri: /events
              ceOverrides:
                extensions:
                  team: shop
              serviceAccountName: custom
              mode: Logical
              eventType: com.example.row
            status:
              observedGeneration: 3
              sinkUri: http://receiver.shop.svc.cluster.local/events
              conditions:
              - type: Ready
                status: "True"
                lastTransitionTime: "2026-01-01T00:00:00Z"
              tableStatuses:
              - name: orders
                ready: true
            """))!;
        Assert.Empty(StructuralSchema.Validate(document, Schema));
    }

    [Theory]
    [InlineData("spec:\n  tables: []\n  secret: {name: s}\n  sink: {uri: http://x}", "spec.tables: needs at least 1 item(s)")]
    [InlineData("spec:\n  tables: [{name: t}]\n  secret: {name: s}\n  sink: {uri: http://x}\n  mode: Sometimes", "spec.mode: \"Sometimes\" is not one of")]
    [InlineData("spec:\n  tables: [{name: t}]\n  sink: {uri: http://x}", "spec.secret: is required")]
    [InlineData("spec:\n  tables: [{name: t}]\n  secret: {name: s}\n  sink: {uri: http://x}\n  table: orders", "spec.table: unknown field")]
    [InlineData("spec:\n  tables: [{name: 5}]\n  secret: {name: s}\n  sink: {uri: http://x}", "spec.tables[0].name: must be of type string")]
    [InlineData("spec:\n  tables: [{name: t}]\n  secret: {name: s}\n  sink: {ref: {kind: Broker, name: b}}", "spec.sink.ref.apiVersion: is required")]
    public void SchemaRejectsMistakes(string spec, string expected)
    {
        var document = Assert.Single(ManifestYaml.Read("apiVersion: sources.vaikas.dev/v1alpha1\nkind: PostgresSource\nmetadata:\n  name: x\n" + spec))!;
        var errors = StructuralSchema.Validate(document, Schema);
        Assert.Contains(errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void StructuralCheckFindsUntypedNodes()
    {
        var schema = JsonNode.Parse("""{"type":"object","properties":{"a":{"description":"no type"},"b":{"type":"array"},"c":{"type":"object","properties":{},"additionalProperties":{"type":"string"}}}}""")!.AsObject();
        Assert.Equal(["(root).a: no type", "(root).b: an array without items", "(root).c: properties and additionalProperties together"], StructuralSchema.StructuralErrors(schema));
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("yes", true)]
    [InlineData("8080", true)]
    [InlineData("1.5", true)]
    [InlineData("2026-01-01", true)]
    [InlineData("", true)]
    [InlineData("null", true)]
    [InlineData("orders", false)]
    [InlineData("http://x/y", false)]
    [InlineData("50m", false)]
    public void YamlQuotesStringsThatWouldReadAsSomethingElse(string text, bool quoted)
    {
        Assert.Equal(quoted, ManifestYaml.ReadsAsNonString(text));
        var yaml = ManifestYaml.Write([new JsonObject { ["value"] = text }]);
        var back = Assert.Single(ManifestYaml.Read(yaml))!;
        Assert.Equal(JsonValueKind.String, back["value"]!.GetValueKind());
        Assert.Equal(text, (string?)back["value"]);
    }
}
