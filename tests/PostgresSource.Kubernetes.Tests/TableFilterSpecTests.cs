using System.Text.Json.Nodes;
using PostgresSource.Kubernetes.Manifests;
using PostgresSource.Core.Naming;
using PostgresSource.Core.Sources;
using PostgresSource.TestSupport;

namespace PostgresSource.Kubernetes.Tests;

/// <summary>spec.tables[] filter fields: YAML in and out, the CRD schema, the adapter variable, and the sync.</summary>
public sealed class TableFilterSpecTests : IDisposable
{
    private static readonly JsonObject Schema = PostgresSourceCrd.SchemaJson();

    private const string Filtered = """
        apiVersion: sources.vaikas.dev/v1alpha1
        kind: PostgresSource
        metadata:
          name: orders
          namespace: default
        spec:
          tables:
          - name: orders
            operations:
            - insert
            - update
            excludeColumns:
            - secret
            maskColumns:
            - email
            mask: hash
            where: total > 100 AND status <> 'test'
          - name: sales.line_items
            columns:
            - id
            - qty
          - name: audit
          secret:
            name: sql-secret
          sink:
            uri: http://receiver.default.svc.cluster.local/events
        """;

    private readonly SyncHarness _harness = new();

    public void Dispose() => _harness.Dispose();

    private static SourceDefinition ReadOne(string yaml)
    {
        var result = SourceManifestReader.Read(yaml, "filters.yaml");
        Assert.Empty(result.Errors);
        return Assert.Single(result.Sources);
    }

    private static Dictionary<string, JsonNode> Env(JsonObject deployment) =>
        deployment["spec"]!["template"]!["spec"]!["containers"]![0]!["env"]!.AsArray().ToDictionary(e => (string)e!["name"]!, e => e!);

    [Fact]
    public void FiltersReadIntoTheSourceAndRoundTripThroughTheResourceAndYaml()
    {
        var document = Assert.Single(ManifestYaml.Read(Filtered))!;
        Assert.Empty(StructuralSchema.Validate(document, Schema));
        var source = ReadOne(Filtered);

        var orders = source.FilterFor(TableName.Parse("orders"))!;
        Assert.Equal(TableOperations.Insert | TableOperations.Update, orders.Operations);
        Assert.Equal(["secret"], orders.ExcludeColumns);
        Assert.Equal(MaskStyle.Hash, orders.MaskStyle);
        Assert.Equal("total > 100 AND status <> 'test'", orders.Where);
        Assert.Equal(["id", "qty"], source.FilterFor(new TableName("sales", "line_items"))!.IncludeColumns);
        Assert.Null(source.FilterFor(TableName.Parse("audit")));

        var written = SourceObjects.CustomResource(source);
        Assert.True(JsonTree.DeepEquals(document["spec"], written["spec"]), $"{document["spec"]!.ToJsonString()}\n!=\n{written["spec"]!.ToJsonString()}");
        Assert.Empty(StructuralSchema.Validate(written, Schema));
        var again = ReadOne(ManifestYaml.Write([written]));
        Assert.Equal(source.Filters.Select(TableEntriesText), again.Filters.Select(TableEntriesText));
    }

    private static string TableEntriesText(TableFilter filter) => TableEntries.Write(filter.Table, filter).ToJsonString();

    [Fact]
    public void TheSchemaRefusesAnOperationThatDoesNotExist()
    {
        var document = Assert.Single(ManifestYaml.Read(Filtered.Replace("  - update\n", "  - upsert\n", StringComparison.Ordinal)))!;
        Assert.NotEmpty(StructuralSchema.Validate(document, Schema));
        var result = SourceManifestReader.Read(Filtered.Replace("  - update\n", "  - upsert\n", StringComparison.Ordinal), "filters.yaml");
        var error = Assert.Single(result.Errors);
        Assert.Equal("spec.tables[0].operations", error.Field);
        Assert.Contains("upsert", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("    where: total > 0; DROP TABLE orders\n", "spec.tables[0].where")]
    [InlineData("    columns:\n    - id\n", "spec.tables[0].columns")]
    [InlineData("    mask: scramble\n", "spec.tables[0].mask")]
    public void ABadFilterIsAnErrorNamingItsField(string extra, string field)
    {
        // The fixture's YAML as the raw literal leaves it: entries at two spaces, their fields at four.
        var yaml = Filtered.Replace("  - name: sales.", extra + "  - name: sales.", StringComparison.Ordinal);
        if (extra.Contains("where", StringComparison.Ordinal) || extra.Contains("mask", StringComparison.Ordinal))
        {
            yaml = yaml.Replace(extra.Contains("where", StringComparison.Ordinal) ? "    where: total > 100 AND status <> 'test'\n" : "    mask: hash\n", "", StringComparison.Ordinal);
        }
        var error = Assert.Single(SourceManifestReader.Read(yaml, "filters.yaml").Errors);
        Assert.Equal(field, error.Field);
    }

    [Fact]
    public void SeedYamlWritesNoFilterVariable()
    {
        var source = ReadOne(SeedManifests.Source);
        Assert.Empty(source.Filters);
        var env = Env(JsonTree.ToJson(SourceObjects.Deployment(source, "http://broker", "image")));
        Assert.DoesNotContain("PGSOURCE_TABLE_FILTERS", env.Keys);
    }

    [Fact]
    public void TheAdapterVariableCarriesTheFiltersAndReadsBackToTheSame()
    {
        var source = ReadOne(Filtered);
        var env = Env(JsonTree.ToJson(SourceObjects.Deployment(source, "http://broker", "image")));
        var text = (string)env["PGSOURCE_TABLE_FILTERS"]["value"]!;
        var read = TableEntries.ParseFilters(text, source.Tables, "PGSOURCE_TABLE_FILTERS");
        Assert.Equal(source.Filters.Select(TableEntriesText), read.Select(TableEntriesText));

        var stranger = Assert.Throws<SourceValidationException>(() => TableEntries.ParseFilters("""[{"name": "payments", "where": "true"}]""", source.Tables, "PGSOURCE_TABLE_FILTERS"));
        Assert.Equal("PGSOURCE_TABLE_FILTERS[0].name", stranger.Field);
    }

    [Fact]
    public void SyncWritesTheFiltersIntoTheResourceAndTheDeploymentAndThenNothing()
    {
        var source = ReadOne(Filtered);
        var observer = _harness.Sync([source]);
        Assert.Empty(observer.Failures);
        Assert.Empty(_harness.Server.Violations);
        var resource = _harness.Server.Find("sources.vaikas.dev", "postgressources", "default", "orders")!;
        Assert.Equal("total > 100 AND status <> 'test'", (string?)resource["spec"]!["tables"]![0]!["where"]);
        var uid = (string)resource["metadata"]!["uid"]!;
        var env = Env(_harness.Server.Find("apps", "deployments", "default", SourceObjectNames.KubernetesName("orders", uid))!);
        Assert.Contains("\"where\"", (string)env["PGSOURCE_TABLE_FILTERS"]["value"]!, StringComparison.Ordinal);

        _harness.Server.ClearRequests();
        _harness.Sync([source]);
        Assert.Empty(_harness.Server.Writes);

        // A changed filter is a change of both.
        var changed = source with { Filters = [source.Filters[0] with { Where = "total > 200" }, source.Filters[1]] };
        _harness.Sync([changed]);
        resource = _harness.Server.Find("sources.vaikas.dev", "postgressources", "default", "orders")!;
        Assert.Equal("total > 200", (string?)resource["spec"]!["tables"]![0]!["where"]);
        env = Env(_harness.Server.Find("apps", "deployments", "default", SourceObjectNames.KubernetesName("orders", uid))!);
        Assert.Equal("total > 200", TableEntries.ParseFilters((string)env["PGSOURCE_TABLE_FILTERS"]["value"]!, source.Tables, "filters")[0].Where);
    }
}
