using System.Text.Json.Nodes;
using PostgresSource.Core.Delivery;
using PostgresSource.Kubernetes;
using PostgresSource.Kubernetes.Manifests;
using PostgresSource.Core.Listening;
using PostgresSource.Core.Naming;
using PostgresSource.Core.Sources;
using PostgresSource.TestSupport;

namespace PostgresSource.Kubernetes.Tests;

/// <summary>spec.delivery: YAML in and out, the CRD schema, the adapter variables, and dead-letter sink resolution.</summary>
public sealed class DeliverySpecTests : IDisposable
{
    private static readonly JsonObject Schema = PostgresSourceCrd.SchemaJson();

    private static readonly string[] DeliveryVariables =
        ["PGSOURCE_DEAD_LETTER_SINK", "PGSOURCE_DELIVERY_ATTEMPTS", "PGSOURCE_DELIVERY_MAX_RETRY_TIME", "PGSOURCE_ON_UNDELIVERABLE", "PGSOURCE_ORDERING", "PGSOURCE_MAX_IN_FLIGHT"];

    private const string Head = """
        apiVersion: sources.vaikas.dev/v1alpha1
        kind: PostgresSource
        metadata:
          name: orders
          namespace: shop
        spec:
          tables:
          - name: orders
          secret:
            name: sql-secret
          sink:
            uri: http://receiver.shop.svc.cluster.local/events

        """;

    /// <summary>Every field of spec.delivery, as a user would write it.</summary>
    private const string Full = Head + """
          delivery:
            onUndeliverable: skip
            ordering: key
            maxInFlight: 8
            retry: 3
            retryTime: PT10M
            deadLetterSink:
              uri: http://dead-letters.shop.svc.cluster.local/
        """;

    private readonly SyncHarness _harness = new();

    public void Dispose() => _harness.Dispose();

    private static SourceDefinition ReadOne(string yaml)
    {
        var result = SourceManifestReader.Read(yaml, "delivery.yaml");
        Assert.Empty(result.Errors);
        return Assert.Single(result.Sources);
    }

    private static Dictionary<string, JsonNode> Env(JsonObject deployment) =>
        deployment["spec"]!["template"]!["spec"]!["containers"]![0]!["env"]!.AsArray().ToDictionary(e => (string)e!["name"]!, e => e!);

    private static string? Condition(JsonObject resource, string type) =>
        (string?)(resource["status"]!["conditions"] as JsonArray)!.FirstOrDefault(c => (string?)c!["type"] == type)?["status"];

    // ---- YAML in and out -------------------------------------------------------------------------------------

    [Fact]
    public void SeedYamlHasNoDeliveryAndWritesNoDeliveryVariable()
    {
        var source = ReadOne(SeedManifests.Source);
        Assert.Null(source.Delivery);

        var document = Assert.Single(ManifestYaml.Read(SeedManifests.Source))!;
        var written = SourceObjects.CustomResource(source);
        Assert.True(JsonTree.DeepEquals(document["spec"], written["spec"]), written["spec"]!.ToJsonString());
        Assert.Null(written["spec"]!["delivery"]);

        var env = Env(JsonTree.ToJson(SourceObjects.Deployment(source, "http://broker", "image")));
        Assert.DoesNotContain(env.Keys, DeliveryVariables.Contains);
    }

    [Fact]
    public void DeliveryReadsIntoTheSourceDefinition()
    {
        var delivery = ReadOne(Full).Delivery!;
        Assert.Equal(UndeliverableAction.Skip, delivery.OnUndeliverable);
        Assert.Equal(DeliveryOrder.Key, delivery.Ordering);
        Assert.Equal(8, delivery.MaxInFlight);
        Assert.Equal(3, delivery.Retry);
        Assert.Equal(4, delivery.MaxAttempts);
        Assert.Equal(TimeSpan.FromMinutes(10), delivery.RetryTime);
        Assert.Equal(new Uri("http://dead-letters.shop.svc.cluster.local/"), delivery.DeadLetterSink!.Uri);
        Assert.False(delivery.DeadLetterSink.IsRef);
    }

    [Theory]
    [InlineData(Full)]
    [InlineData(Head + "  delivery:\n    ordering: unordered\n")]
    [InlineData(Head + "  delivery:\n    onUndeliverable: stop\n    retry: 0\n    retryTime: PT0.5S\n")]
    [InlineData(Head + "  delivery:\n    retryTime: PT1H30M\n    deadLetterSink:\n      ref:\n        apiVersion: eventing.knative.dev/v1\n        kind: Broker\n        name: dead\n        namespace: ops\n      uri: /letters\n")]
    [InlineData(Head + "  delivery:\n    ordering: commit\n    maxInFlight: 1\n    retryTime: P1D\n")]
    public void DeliveryRoundTripsFromYamlToSourceAndBack(string yaml)
    {
        var document = Assert.Single(ManifestYaml.Read(yaml))!;
        Assert.Empty(StructuralSchema.Validate(document, Schema));
        var source = ReadOne(yaml);

        // The resource written from the source is the one read, field for field.
        var written = SourceObjects.CustomResource(source);
        Assert.True(JsonTree.DeepEquals(document["spec"], written["spec"]),
            $"{document["spec"]!.ToJsonString()}\n!=\n{written["spec"]!.ToJsonString()}");
        Assert.Empty(StructuralSchema.Validate(written, Schema));

        // And through the YAML writer (numbers stay numbers) back into the same definition.
        var text = ManifestYaml.Write([written]);
        var again = ReadOne(text);
        Assert.Equal(source.Delivery, again.Delivery);
    }

    [Fact]
    public void WrittenYamlKeepsNumbersAndDurationsInTheirKubernetesForm()
    {
        var text = ManifestYaml.Write([SourceObjects.CustomResource(ReadOne(Full))]);
        Assert.Contains("""
              delivery:
                onUndeliverable: skip
                ordering: key
                maxInFlight: 8
                retry: 3
                retryTime: PT10M
                deadLetterSink:
                  uri: http://dead-letters.shop.svc.cluster.local/
            """, text.Replace("\r\n", "\n"));
    }

    [Fact]
    public void AnEmptyDeliveryIsNoDelivery()
    {
        var source = ReadOne(Head + "  delivery: {}\n");
        Assert.Null(source.Delivery);
        Assert.Null(SourceObjects.CustomResource(source)["spec"]!["delivery"]);
        Assert.Null(SourceObjects.CustomResource(SyncHarness.Source() with { Delivery = new SourceDelivery() })["spec"]!["delivery"]);
    }

    [Theory]
    [InlineData("ordering: sometimes", "spec.delivery.ordering", "'sometimes' is not one of commit, key, unordered.")]
    [InlineData("ordering: Key", "spec.delivery.ordering", "'Key' is not one of commit, key, unordered.")]
    [InlineData("onUndeliverable: drop", "spec.delivery.onUndeliverable", "'drop' is not one of stop, skip.")]
    [InlineData("maxInFlight: many", "spec.delivery.maxInFlight", "must be a whole number.")]
    [InlineData("maxInFlight: 0", "spec.delivery.maxInFlight", "0 is not a whole number from 1 to 1000.")]
    [InlineData("maxInFlight: 1001", "spec.delivery.maxInFlight", "1001 is not a whole number from 1 to 1000.")]
    [InlineData("ordering: commit\n    maxInFlight: 4", "spec.delivery.maxInFlight", "commit order allows one delivery in flight, not 4")]
    [InlineData("retry: -1", "spec.delivery.retry", "-1 is not a number of retries")]
    [InlineData("retry: 2.5", "spec.delivery.retry", "must be a whole number.")]
    [InlineData("retryTime: 10m", "spec.delivery.retryTime", "'10m' is not an ISO 8601 duration")]
    [InlineData("retryTime: -PT1S", "spec.delivery.retryTime", "'-PT1S' is not an ISO 8601 duration")]
    [InlineData("deadLetterSink:\n      uri: /relative", "spec.delivery.deadLetterSink", "needs 'ref' or an absolute 'uri'.")]
    [InlineData("deadLetterSink:\n      uri: ftp://files.example/", "spec.delivery.deadLetterSink", "needs a ref or an absolute http or https uri, not 'ftp://files.example/'.")]
    [InlineData("deadLetterSink:\n      ref: {kind: Broker, name: dead}", "spec.delivery.deadLetterSink.ref.apiVersion", "is missing.")]
    [InlineData("deadLetterSink: http://dead.example/", "spec.delivery.deadLetterSink", "must be a mapping with 'ref' or 'uri'.")]
    public void InvalidDeliveryIsAnErrorNamingTheField(string field, string expectedField, string expectedMessage)
    {
        var result = SourceManifestReader.Read(Head + "  delivery:\n    " + field + "\n", "bad.yaml");

        Assert.Empty(result.Sources);
        var error = Assert.Single(result.Errors);
        Assert.Equal(expectedField, error.Field);
        Assert.Contains(expectedMessage, error.Message);
        Assert.Contains("bad.yaml", error.Message);
    }

    [Fact]
    public void DeliveryThatIsNotAMappingIsAnError()
    {
        var error = Assert.Single(SourceManifestReader.Read(Head + "  delivery: fast\n", "bad.yaml").Errors);
        Assert.Equal("spec.delivery", error.Field);
    }

    [Fact]
    public void UnknownDeliveryFieldIsAWarning()
    {
        var result = SourceManifestReader.Read(Head + "  delivery:\n    retry: 2\n    backoffDelay: PT1S\n", "knative.yaml");

        Assert.Empty(result.Errors);
        Assert.Equal(2, Assert.Single(result.Sources).Delivery!.Retry);
        var warning = Assert.Single(result.Warnings);
        Assert.Contains("knative.yaml (document 1): spec.delivery.backoffDelay is not a field of spec.delivery", warning);
    }

    [Fact]
    public void DefinitionValidationNamesTheDeliveryField()
    {
        SourceValidationException Invalid(SourceDelivery delivery) =>
            Assert.Throws<SourceValidationException>(() => (SyncHarness.Source() with { Delivery = delivery }).Validate());

        Assert.Equal("delivery.ordering", Invalid(new SourceDelivery { Ordering = (DeliveryOrder)7 }).Field);
        Assert.Equal("delivery.onUndeliverable", Invalid(new SourceDelivery { OnUndeliverable = (UndeliverableAction)7 }).Field);
        Assert.Equal("delivery.maxInFlight", Invalid(new SourceDelivery { MaxInFlight = 0 }).Field);
        Assert.Equal("delivery.retry", Invalid(new SourceDelivery { Retry = -2 }).Field);
        Assert.Equal("delivery.retryTime", Invalid(new SourceDelivery { RetryTime = TimeSpan.FromSeconds(-1) }).Field);
        Assert.Equal("delivery.deadLetterSink", Invalid(new SourceDelivery { DeadLetterSink = SinkReference.FromUri(new Uri("/x", UriKind.Relative)) }).Field);
        Assert.Equal("delivery.deadLetterSink.ref", Invalid(new SourceDelivery { DeadLetterSink = new SinkReference { RefName = "b" } }).Field);
    }

    // ---- the CRD schema --------------------------------------------------------------------------------------

    [Fact]
    public void CrdSchemaDescribesDelivery()
    {
        var delivery = Schema["properties"]!["spec"]!["properties"]!["delivery"]!.AsObject();
        Assert.Equal("object", (string?)delivery["type"]);
        var fields = delivery["properties"]!.AsObject();
        Assert.Equal(["onUndeliverable", "ordering", "maxInFlight", "retry", "retryTime", "deadLetterSink"], fields.Select(p => p.Key));
        Assert.Equal(["stop", "skip"], fields["onUndeliverable"]!["enum"]!.AsArray().Select(v => (string)v!));
        Assert.Equal(["commit", "key", "unordered"], fields["ordering"]!["enum"]!.AsArray().Select(v => (string)v!));
        Assert.Equal("integer", (string?)fields["maxInFlight"]!["type"]);
        Assert.Equal(1, (double)fields["maxInFlight"]!["minimum"]!);
        Assert.Equal(0, (double)fields["retry"]!["minimum"]!);
        Assert.Equal("string", (string?)fields["retryTime"]!["type"]);
        Assert.Equal(["ref", "uri", "CACerts", "audience"], fields["deadLetterSink"]!["properties"]!.AsObject().Select(p => p.Key));
        Assert.True(Schema["properties"]!["status"]!["properties"]!.AsObject().ContainsKey("deadLetterSinkUri"));
        Assert.Empty(StructuralSchema.StructuralErrors(Schema));
    }

    [Theory]
    [InlineData("ordering: sometimes", "spec.delivery.ordering: \"sometimes\" is not one of [\"commit\",\"key\",\"unordered\"]")]
    [InlineData("ordering: Key", "spec.delivery.ordering: \"Key\" is not one of")]
    [InlineData("onUndeliverable: Skip", "spec.delivery.onUndeliverable: \"Skip\" is not one of [\"stop\",\"skip\"]")]
    [InlineData("maxInFlight: 0", "spec.delivery.maxInFlight: must be at least 1")]
    [InlineData("maxInFlight: 5000", "spec.delivery.maxInFlight: must be at most 1000")]
    [InlineData("maxInFlight: \"4\"", "spec.delivery.maxInFlight: must be of type integer")]
    [InlineData("retry: -1", "spec.delivery.retry: must be at least 0")]
    [InlineData("retryTime: 30", "spec.delivery.retryTime: must be of type string")]
    [InlineData("backoffDelay: PT1S", "spec.delivery.backoffDelay: unknown field")]
    [InlineData("deadLetterSink: {ref: {kind: Broker, name: b}}", "spec.delivery.deadLetterSink.ref.apiVersion: is required")]
    public void CrdSchemaRejectsDeliveryMistakes(string field, string expected)
    {
        var document = Assert.Single(ManifestYaml.Read(Head + "  delivery:\n    " + field + "\n"))!;
        var errors = StructuralSchema.Validate(document, Schema);
        Assert.Contains(errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    // ---- the adapter Deployment ------------------------------------------------------------------------------

    [Fact]
    public void DeploymentCarriesTheDeliveryVariables()
    {
        var source = ReadOne(Full);
        var env = Env(JsonTree.ToJson(SourceObjects.Deployment(source, "http://receiver.shop.svc.cluster.local/events", "image",
            "http://dead-letters.shop.svc.cluster.local/")));

        Assert.Equal("http://dead-letters.shop.svc.cluster.local/", (string?)env["PGSOURCE_DEAD_LETTER_SINK"]["value"]);
        Assert.Equal("4", (string?)env["PGSOURCE_DELIVERY_ATTEMPTS"]["value"]); // retry 3: four attempts in all
        Assert.Equal("PT10M", (string?)env["PGSOURCE_DELIVERY_MAX_RETRY_TIME"]["value"]);
        Assert.Equal("skip", (string?)env["PGSOURCE_ON_UNDELIVERABLE"]["value"]);
        Assert.Equal("key", (string?)env["PGSOURCE_ORDERING"]["value"]);
        Assert.Equal("8", (string?)env["PGSOURCE_MAX_IN_FLIGHT"]["value"]);
        // After the source's own variables, before the connection.
        var names = env.Keys.ToList();
        Assert.True(names.IndexOf("PGSOURCE_MODE") < names.IndexOf("PGSOURCE_DEAD_LETTER_SINK"));
        Assert.True(names.IndexOf("PGSOURCE_MAX_IN_FLIGHT") < names.IndexOf("PGSOURCE_CONNECTION"));
    }

    [Fact]
    public void DeploymentWritesOnlyTheVariablesThatAreSet()
    {
        var source = ReadOne(Head + "  delivery:\n    ordering: unordered\n    retry: 0\n");
        var env = Env(JsonTree.ToJson(SourceObjects.Deployment(source, "http://receiver", "image")));

        Assert.Equal(["PGSOURCE_DELIVERY_ATTEMPTS", "PGSOURCE_ORDERING"], env.Keys.Where(DeliveryVariables.Contains));
        Assert.Equal("1", (string?)env["PGSOURCE_DELIVERY_ATTEMPTS"]["value"]);
        Assert.Equal("unordered", (string?)env["PGSOURCE_ORDERING"]["value"]);
    }

    [Fact]
    public void ExportResolvesTheDeadLetterSinkOfflineOrSaysWhyNot()
    {
        var byUri = ManifestExporter.Export([ReadOne(Full)], new ExportOptions());
        Assert.Empty(byUri.Errors);
        var deployment = byUri.Documents.Single(d => (string?)d["kind"] == "Deployment");
        Assert.Equal("http://dead-letters.shop.svc.cluster.local/", (string?)Env(deployment)["PGSOURCE_DEAD_LETTER_SINK"]["value"]);
        var resource = byUri.Documents.Single(d => (string?)d["kind"] == "PostgresSource");
        Assert.Equal(3, (int)resource["spec"]!["delivery"]!["retry"]!);

        var broker = SyncHarness.Source() with { Delivery = new SourceDelivery { DeadLetterSink = SyncHarness.BrokerRef("dead") } };
        var byBroker = ManifestExporter.Export([broker], new ExportOptions());
        Assert.Empty(byBroker.Errors);
        Assert.Contains(byBroker.Warnings, w => w.StartsWith("The dead-letter sink of default/orders is Broker default/dead: PGSOURCE_DEAD_LETTER_SINK is set to", StringComparison.Ordinal));
        Assert.Equal("http://broker-ingress.knative-eventing.svc.cluster.local/default/dead",
            (string?)Env(byBroker.Documents.Single(d => (string?)d["kind"] == "Deployment"))["PGSOURCE_DEAD_LETTER_SINK"]["value"]);

        var channel = SyncHarness.Source() with
        {
            Delivery = new SourceDelivery { DeadLetterSink = new SinkReference { RefApiVersion = "messaging.knative.dev/v1", RefKind = "Channel", RefName = "c" } },
        };
        var byChannel = ManifestExporter.Export([channel], new ExportOptions { SinkUri = "http://other" });
        var (source, error) = Assert.Single(byChannel.Errors);
        Assert.Equal("default/orders", source);
        Assert.Equal("The dead-letter sink of default/orders (Channel default/c) cannot be resolved without a cluster: give spec.delivery.deadLetterSink an absolute uri, or use Sync-PgSourceCluster, which reads its status.address.url.", error.Message);
        Assert.DoesNotContain(byChannel.Documents, d => (string?)d["kind"] == "Deployment");
    }

    // ---- cluster sync ----------------------------------------------------------------------------------------

    [Fact]
    public void SyncResolvesADeadLetterRefIntoTheDeploymentAndTheStatus()
    {
        _harness.Server.Seed(new JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Service",
            ["metadata"] = new JsonObject { ["name"] = "dead-letters", ["namespace"] = "default" },
        });
        var source = SyncHarness.Source() with
        {
            Delivery = new SourceDelivery
            {
                OnUndeliverable = UndeliverableAction.Skip,
                Retry = 4,
                DeadLetterSink = new SinkReference { RefApiVersion = "v1", RefKind = "Service", RefName = "dead-letters", Uri = new Uri("/in", UriKind.Relative) },
            },
        };

        var observer = _harness.Sync([source]);

        Assert.Empty(observer.Failures);
        Assert.Empty(_harness.Server.Violations);
        var resource = _harness.Server.Find("sources.vaikas.dev", "postgressources", "default", "orders")!;
        Assert.Equal("skip", (string?)resource["spec"]!["delivery"]!["onUndeliverable"]);
        Assert.Equal("dead-letters", (string?)resource["spec"]!["delivery"]!["deadLetterSink"]!["ref"]!["name"]);
        Assert.Equal("http://dead-letters.default.svc.cluster.local/in", (string?)resource["status"]!["deadLetterSinkUri"]);
        Assert.Equal("True", Condition(resource, "DeadLetterSinkResolved"));

        var uid = (string)resource["metadata"]!["uid"]!;
        var env = Env(_harness.Server.Find("apps", "deployments", "default", SourceObjectNames.KubernetesName("orders", uid))!);
        Assert.Equal("http://dead-letters.default.svc.cluster.local/in", (string?)env["PGSOURCE_DEAD_LETTER_SINK"]["value"]);
        Assert.Equal("5", (string?)env["PGSOURCE_DELIVERY_ATTEMPTS"]["value"]);
        Assert.Equal("skip", (string?)env["PGSOURCE_ON_UNDELIVERABLE"]["value"]);

        // Nothing changes on a second run.
        _harness.Server.ClearRequests();
        var second = _harness.Sync([source]);
        Assert.Empty(_harness.Server.Writes);
        Assert.All(second.Changes, c => Assert.Equal(ChangeAction.Unchanged, c.Action));

        // Without the delivery settings, the variables, the status field and the condition go.
        var third = _harness.Sync([SyncHarness.Source()]);
        Assert.Empty(third.Failures);
        resource = _harness.Server.Find("sources.vaikas.dev", "postgressources", "default", "orders")!;
        Assert.Null(resource["spec"]!["delivery"]);
        Assert.Null(resource["status"]!["deadLetterSinkUri"]);
        Assert.Null(Condition(resource, "DeadLetterSinkResolved"));
        Assert.Contains("status.conditions[DeadLetterSinkResolved] (removed)", Assert.Single(third.Changes, c => c.Subresource == "status").Changes);
        env = Env(_harness.Server.Find("apps", "deployments", "default", SourceObjectNames.KubernetesName("orders", uid))!);
        Assert.DoesNotContain(env.Keys, DeliveryVariables.Contains);
    }

    [Fact]
    public void UnresolvableDeadLetterSinkIsAClearErrorAndNoAdapterIsDeployed()
    {
        var source = SyncHarness.Source() with { Delivery = new SourceDelivery { DeadLetterSink = SyncHarness.BrokerRef("missing") } };

        var observer = _harness.Sync([source]);

        var (_, error) = Assert.Single(observer.Failures);
        Assert.IsType<SinkResolutionException>(error);
        Assert.Equal("The dead-letter sink of default/orders does not resolve: Broker default/missing (eventing.knative.dev/v1) does not exist.", error.Message);
        Assert.DoesNotContain(observer.Changes, c => c.Kind == "Deployment");
        var resource = _harness.Server.Find("sources.vaikas.dev", "postgressources", "default", "orders")!;
        Assert.Equal("True", Condition(resource, "SinkProvided"));
        Assert.Equal("False", Condition(resource, "DeadLetterSinkResolved"));
        Assert.Equal("False", Condition(resource, "Ready"));
        Assert.Equal("Unknown", Condition(resource, "Deployed"));
        Assert.NotNull(resource["status"]!["sinkUri"]);
        Assert.Null(resource["status"]!["deadLetterSinkUri"]);
    }
}
