using PostgresSource.Kubernetes;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes.Tests;

/// <summary>spec.database.caCertSecret mounts the database's root certificate into the adapter; without it nothing changes.</summary>
public sealed class DatabaseCaSecretTests
{
    private const string Seed = """
        apiVersion: sources.vaikas.dev/v1alpha1
        kind: PostgresSource
        metadata:
          name: orders
          uid: D049318D-72C6-45E3-B8BE-B0D4A38E82AD
        spec:
          tables:
          - name: orders
          secret:
            name: sql-secret
          sink:
            uri: http://sink.default.svc.cluster.local/
        """;

    private static Core.Sources.SourceDefinition Read(string yaml)
    {
        var result = SourceManifestReader.Read(yaml, "test.yaml");
        Assert.Empty(result.Errors);
        return Assert.Single(result.Sources);
    }

    [Fact]
    public void TheSecretIsMountedReadOnlyAndNamedToTheAdapter()
    {
        var source = Read(Seed + "\n  database:\n    caCertSecret:\n      name: pg-ca\n");
        Assert.Equal(new Core.Sources.SecretKeyReference("pg-ca", "ca.crt"), source.DatabaseCaCert);
        Assert.Equal("d049318d-72c6-45e3-b8be-b0d4a38e82ad", source.Uid);

        var pod = SourceObjects.Deployment(source, "http://sink/", "adapter:1").Spec.Template.Spec;
        var volume = Assert.Single(pod.Volumes, v => v.Name == SourceObjects.DatabaseCaVolumeName);
        Assert.Equal("pg-ca", volume.Secret.SecretName);
        Assert.Equal("ca.crt", Assert.Single(volume.Secret.Items).Key);
        var mount = Assert.Single(pod.Containers[0].VolumeMounts, m => m.Name == SourceObjects.DatabaseCaVolumeName);
        Assert.True(mount.ReadOnlyProperty);
        Assert.StartsWith(mount.MountPath + "/", SourceObjects.DatabaseCaFile);
        Assert.Equal(SourceObjects.DatabaseCaFile, Assert.Single(pod.Containers[0].Env, e => e.Name == "PGSOURCE_DB_ROOT_CERT").Value);

        var resource = SourceObjects.CustomResource(source);
        Assert.Equal("pg-ca", resource["spec"]!["database"]!["caCertSecret"]!["name"]!.GetValue<string>());
        Assert.Empty(StructuralSchema.Validate(resource, PostgresSourceCrd.SchemaJson()));

        var job = SourceObjects.UninstallJob("default", "u", "orders", "adapter:1", pod.Containers[0].Env, null, volume).Spec.Template.Spec;
        Assert.Contains(job.Volumes, v => v.Name == SourceObjects.DatabaseCaVolumeName);
        Assert.Contains(job.Containers[0].VolumeMounts, m => m.Name == SourceObjects.DatabaseCaVolumeName);
    }

    [Fact]
    public void AnotherKeyIsMappedToTheSameFile()
    {
        var source = Read(Seed + "\n  database:\n    caCertSecret:\n      name: pg-ca\n      key: root.pem\n");
        var volume = Assert.Single(SourceObjects.Deployment(source, "http://sink/", "adapter:1").Spec.Template.Spec.Volumes, v => v.Name == SourceObjects.DatabaseCaVolumeName);
        Assert.Equal("root.pem", Assert.Single(volume.Secret.Items).Key);
        Assert.Equal("ca.crt", volume.Secret.Items[0].Path);
    }

    [Fact]
    public void ASeedYamlExportsAsBefore()
    {
        var source = Read(Seed);
        Assert.Null(source.DatabaseCaCert);
        var pod = SourceObjects.Deployment(source, "http://sink/", "adapter:1").Spec.Template.Spec;
        Assert.Equal(["tmp"], pod.Volumes.Select(v => v.Name));
        Assert.Equal(["tmp"], pod.Containers[0].VolumeMounts.Select(m => m.Name));
        Assert.DoesNotContain(pod.Containers[0].Env, e => e.Name == "PGSOURCE_DB_ROOT_CERT");
        Assert.Null(SourceObjects.CustomResource(source)["spec"]!["database"]);
    }

    [Fact]
    public void ACaSecretWithoutANameIsAnError()
    {
        var result = SourceManifestReader.Read(Seed + "\n  database:\n    caCertSecret:\n      key: ca.crt\n", "test.yaml");
        Assert.Contains("spec.database.caCertSecret.name", Assert.Single(result.Errors).Message);
    }
}
