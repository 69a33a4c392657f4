using System.Text.Json.Nodes;
using PostgresSource.Core.Sources;
using PostgresSource.Kubernetes.Manifests;
using PostgresSource.TestSupport;

namespace PostgresSource.Kubernetes.Tests;

/// <summary>
/// Knative's sink TLS and OIDC conventions through cluster sync against the fake API server: the sink's CA
/// certificates and audience (the Destination's, else the Addressable's status.address) reach the status
/// (sinkCACerts, sinkAudience) and the adapter Deployment (K_CA_CERTS, K_AUDIENCE, a projected audience-bound token).
/// </summary>
public sealed class SinkTlsAndOidcTests : IDisposable
{
    private const string BrokerPem = "-----BEGIN CERTIFICATE-----\nQlJPS0VS\n-----END CERTIFICATE-----\n";
    private const string OwnPem = "-----BEGIN CERTIFICATE-----\nT1dO\n-----END CERTIFICATE-----\n";
    private const string BrokerUrl = "https://broker-ingress.knative-eventing.svc.cluster.local/default/default";

    private readonly SyncHarness _harness = new();

    private FakeKubernetesApiServer Server => _harness.Server;

    public void Dispose() => _harness.Dispose();

    private void SeedBroker(string name, string? caCerts, string? audience)
    {
        Server.Seed(new JsonObject
        {
            ["apiVersion"] = "eventing.knative.dev/v1", ["kind"] = "Broker",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "default" },
            ["status"] = new JsonObject { ["address"] = Address(caCerts, audience) },
        });
    }

    private static JsonObject Address(string? caCerts, string? audience)
    {
        var address = new JsonObject { ["url"] = BrokerUrl };
        if (caCerts is not null)
        {
            address["CACerts"] = caCerts;
        }
        if (audience is not null)
        {
            address["audience"] = audience;
        }
        return address;
    }

    private JsonObject Resource() => Server.Find("sources.vaikas.dev", "postgressources", "default", "orders")!;

    private JsonObject Pod()
    {
        var deployment = Assert.Single(Server.All("apps", "deployments"));
        return (JsonObject)deployment["spec"]!["template"]!["spec"]!;
    }

    private static Dictionary<string, string?> Env(JsonObject pod) =>
        pod["containers"]![0]!["env"]!.AsArray().OfType<JsonObject>().ToDictionary(e => (string)e["name"]!, e => (string?)e["value"]);

    private static JsonObject? TokenVolume(JsonObject pod) =>
        pod["volumes"]!.AsArray().OfType<JsonObject>().FirstOrDefault(v => (string?)v["name"] == SourceObjects.SinkTokenVolumeName);

    [Fact]
    public void ABrokersAddressCaCertsAndAudienceReachTheDeploymentAndTheStatus()
    {
        SeedBroker("default", BrokerPem, "broker-audience");

        var observer = _harness.Sync([SyncHarness.Source(sink: SyncHarness.BrokerRef())]);

        Assert.Empty(observer.Failures);
        Assert.True(Server.Violations.Count == 0, string.Join("\n", Server.Violations));
        var status = Resource()["status"]!;
        Assert.Equal(BrokerUrl, (string?)status["sinkUri"]);
        Assert.Equal(BrokerPem, (string?)status["sinkCACerts"]);
        Assert.Equal("broker-audience", (string?)status["sinkAudience"]);

        var pod = Pod();
        var env = Env(pod);
        Assert.Equal(BrokerPem, env["K_CA_CERTS"]);
        Assert.Equal("broker-audience", env["K_AUDIENCE"]);
        Assert.Equal("/var/run/secrets/pgsource/sink/token", env["PGSOURCE_SINK_TOKEN_FILE"]);

        var projection = Assert.Single(TokenVolume(pod)!["projected"]!["sources"]!.AsArray())!["serviceAccountToken"]!;
        Assert.Equal("broker-audience", (string?)projection["audience"]);
        Assert.Equal(3600, (long)projection["expirationSeconds"]!);
        Assert.Equal("token", (string?)projection["path"]);
        var mount = pod["containers"]![0]!["volumeMounts"]!.AsArray().OfType<JsonObject>().Single(m => (string?)m["name"] == SourceObjects.SinkTokenVolumeName);
        Assert.Equal("/var/run/secrets/pgsource/sink", (string?)mount["mountPath"]);
        Assert.True((bool)mount["readOnly"]!);
    }

    [Fact]
    public void TheDestinationsOwnCaCertsAndAudienceWinOverTheBrokers()
    {
        SeedBroker("default", BrokerPem, "broker-audience");

        _harness.Sync([SyncHarness.Source(sink: SyncHarness.BrokerRef() with { CaCerts = OwnPem, Audience = "own-audience" })]);

        var status = Resource()["status"]!;
        Assert.Equal(OwnPem, (string?)status["sinkCACerts"]);
        Assert.Equal("own-audience", (string?)status["sinkAudience"]);
        var env = Env(Pod());
        Assert.Equal(OwnPem, env["K_CA_CERTS"]);
        Assert.Equal("own-audience", env["K_AUDIENCE"]);
        // The resource as applied carries them too (spec.sink.CACerts, spec.sink.audience).
        Assert.Equal(OwnPem, (string?)Resource()["spec"]!["sink"]!["CACerts"]);
        Assert.Equal("own-audience", (string?)Resource()["spec"]!["sink"]!["audience"]);
    }

    [Fact]
    public void ANewCaOrAudienceRollsTheDeploymentAndTheirRemovalClearsEnvVolumeAndStatus()
    {
        SeedBroker("default", BrokerPem, null);
        _harness.Sync([SyncHarness.Source(sink: SyncHarness.BrokerRef())]);
        Assert.Null(TokenVolume(Pod()));
        Assert.False(Env(Pod()).ContainsKey("K_AUDIENCE"));
        Assert.Null(Resource()["status"]!["sinkAudience"]);

        Server.SetStatus("eventing.knative.dev", "brokers", "default", "default", new JsonObject { ["address"] = Address(OwnPem, "rotated-audience") });
        var rolled = _harness.Sync([SyncHarness.Source(sink: SyncHarness.BrokerRef())]);
        Assert.Contains(rolled.Changes, c => c.Kind == "Deployment" && c.Action == ChangeAction.Configured);
        Assert.Equal(OwnPem, Env(Pod())["K_CA_CERTS"]);
        Assert.NotNull(TokenVolume(Pod()));
        Assert.Equal("rotated-audience", (string?)Resource()["status"]!["sinkAudience"]);

        Server.SetStatus("eventing.knative.dev", "brokers", "default", "default", new JsonObject { ["address"] = Address(null, null) });
        _harness.Sync([SyncHarness.Source(sink: SyncHarness.BrokerRef())]);
        var env = Env(Pod());
        Assert.False(env.ContainsKey("K_CA_CERTS"));
        Assert.False(env.ContainsKey("PGSOURCE_SINK_TOKEN_FILE"));
        Assert.Null(TokenVolume(Pod()));
        Assert.Null(Resource()["status"]!["sinkCACerts"]);
        Assert.Null(Resource()["status"]!["sinkAudience"]);
    }

    [Fact]
    public void ADeadLetterSinkGetsItsOwnCaCertsAndToken()
    {
        SeedBroker("default", null, "sink-audience");
        SeedBroker("dead", BrokerPem, "dead-audience");
        var source = SyncHarness.Source(sink: SyncHarness.BrokerRef()) with { Delivery = new SourceDelivery { DeadLetterSink = SyncHarness.BrokerRef("dead") } };

        var observer = _harness.Sync([source]);

        Assert.Empty(observer.Failures);
        var status = Resource()["status"]!;
        Assert.Equal(BrokerPem, (string?)status["deadLetterSinkCACerts"]);
        Assert.Equal("dead-audience", (string?)status["deadLetterSinkAudience"]);
        Assert.Null(status["sinkCACerts"]);
        var pod = Pod();
        var env = Env(pod);
        Assert.False(env.ContainsKey("K_CA_CERTS"));
        Assert.Equal(BrokerPem, env["PGSOURCE_DEAD_LETTER_SINK_CA_CERTS"]);
        Assert.Equal("/var/run/secrets/pgsource/sink/dead-letter-token", env["PGSOURCE_DEAD_LETTER_SINK_TOKEN_FILE"]);
        var audiences = TokenVolume(pod)!["projected"]!["sources"]!.AsArray()
            .Select(p => ((string?)p!["serviceAccountToken"]!["audience"], (string?)p["serviceAccountToken"]!["path"])).ToList();
        Assert.Equal([("sink-audience", "token"), ("dead-audience", "dead-letter-token")], audiences);
    }

    [Fact]
    public void SpecSinkCaCertsAndAudienceRoundTripThroughTheManifestReader()
    {
        const string yaml = """
            apiVersion: sources.vaikas.dev/v1alpha1
            kind: PostgresSource
            metadata:
              name: orders
            spec:
              tables:
              - name: orders
              secret:
                name: sql-secret
              sink:
                uri: https://sink.example/
                audience: sink-audience
                CACerts: |
                  -----BEGIN CERTIFICATE-----
                  T1dO
                  -----END CERTIFICATE-----
            """;
        var read = SourceManifestReader.Read(yaml, "test.yaml");
        Assert.Empty(read.Errors);
        var sink = Assert.Single(read.Sources).Sink!;
        Assert.Equal(OwnPem.TrimEnd(), sink.CaCerts); // the document ends with the block: YAML keeps no final line break
        Assert.Equal("sink-audience", sink.Audience);

        var resource = SourceObjects.CustomResource(read.Sources[0]);
        Assert.Empty(StructuralSchema.Validate(resource, PostgresSourceCrd.SchemaJson()));
        var again = SourceManifestReader.Read(ManifestYaml.Write([resource]), "again.yaml");
        Assert.Empty(again.Errors);
        Assert.Equal(sink, Assert.Single(again.Sources).Sink);

        // Offline (Export-PgSourceManifest): a URI's own CACerts and audience reach the Deployment as well.
        var env = SourceObjects.Deployment(read.Sources[0], SinkResolver.ResolveOffline(read.Sources[0]), "adapter:1", null).Spec.Template.Spec.Containers[0].Env;
        Assert.Equal(sink.CaCerts, env.Single(e => e.Name == "K_CA_CERTS").Value);
        Assert.Equal("sink-audience", env.Single(e => e.Name == "K_AUDIENCE").Value);
    }

    [Fact]
    public void WhatIfForANewSourceNamesTheSinkTlsAndAudienceStatusFields()
    {
        SeedBroker("default", BrokerPem, "broker-audience");

        var whatIf = _harness.Sync([SyncHarness.Source(sink: SyncHarness.BrokerRef())], answer: Approval.WhatIf);

        var status = Assert.Single(whatIf.Changes, c => c.Kind == "PostgresSource" && c.Subresource == "status");
        Assert.Contains("status.sinkCACerts", status.Changes);
        Assert.Contains("status.sinkAudience", status.Changes);
        Assert.Empty(Server.Writes);
    }
}
