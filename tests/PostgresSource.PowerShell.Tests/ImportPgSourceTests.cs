using PostgresSource.TestSupport;
using System.Collections;
using System.Management.Automation;

namespace PostgresSource.PowerShell.Tests;

public sealed class ImportPgSourceTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("pgsource-import-").FullName;

    private string Write(string name, string yaml)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, yaml);
        return path;
    }

    [Fact]
    public void ReadsTheSeedsYamlUnchangedWithOtherKindsSkipped()
    {
        var path = Write("seed.yaml", SeedManifests.SecretAndSource + "\n---\n" + """
            apiVersion: sources.vaikas.dev/v1alpha1
            kind: PostgresSource
            metadata:
              name: second
              namespace: shop
              uid: d049318d-72c6-45e3-b8be-b0d4a38e82ad
            spec:
              tables:
              - name: sales.orders
              - name: items
              secret:
                name: sql-secret
              sink:
                uri: http://receiver.shop.svc.cluster.local/
              ceOverrides:
                extensions:
                  team: billing
            """);
        using var ps = PowerShellSession.Open();
        var result = ps.Run("Import-PgSource -Path $p", new Hashtable { ["p"] = path });

        Assert.Empty(result.Errors);
        Assert.Contains(result.Warnings, w => w.Contains("Secret") && w.Contains("sql-secret"));
        Assert.Equal(2, result.Output.Count);
        Assert.Equal("vaikaspostgres", result.Property(0, "Name"));
        Assert.Equal("Broker/default", result.Property(0, "Sink"));
        Assert.Equal("sql-secret", result.Property(0, "SecretName"));
        Assert.Equal(new[] { "orders" }, (string[])result.Property(0, "Tables")!);
        Assert.Equal("postgressource_vaikaspostgres", result.Property(0, "ObjectName"));
        Assert.Equal("shop", result.Property(1, "Namespace"));
        Assert.Equal("postgressource_second_d049318d_72c6_45e3_b8be_b0d4a38e82ad", result.Property(1, "ObjectName"));
        Assert.Equal(new[] { "sales.orders", "items" }, (string[])result.Property(1, "Tables")!);
        Assert.Equal("billing", ((Hashtable)result.Property(1, "CeOverrides")!)["team"]);
    }

    [Fact]
    public void MissingFieldNamesFileAndFieldAndKeepsTheGoodDocuments()
    {
        var path = Write("bad.yaml", """
            apiVersion: sources.vaikas.dev/v1alpha1
            kind: PostgresSource
            metadata:
              name: nospec-tables
            spec:
              secret:
                name: s
            ---
            apiVersion: sources.vaikas.dev/v1alpha1
            kind: PostgresSource
            metadata:
              name: good
            spec:
              tables:
              - name: orders
            """);
        using var ps = PowerShellSession.Open();
        var result = ps.Run("Import-PgSource -Path $p", new Hashtable { ["p"] = path });
        var error = Assert.Single(result.Errors);
        Assert.StartsWith("PgSource.ManifestInvalid,", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidData, error.CategoryInfo.Category);
        Assert.Contains("bad.yaml", error.Exception.Message);
        Assert.Contains("spec.tables", error.Exception.Message);
        Assert.Equal("good", result.Property(0, "Name"));
    }

    [Fact]
    public void InvalidYamlAndMissingFileAreClearErrors()
    {
        var path = Write("broken.yaml", "apiVersion: [unclosed\nkind: PostgresSource\n");
        using var ps = PowerShellSession.Open();
        var broken = ps.Run("Import-PgSource -Path $p", new Hashtable { ["p"] = path });
        var error = Assert.Single(broken.Errors);
        Assert.True(error.FullyQualifiedErrorId.StartsWith("PgSource.ManifestInvalid,"), error.Exception.ToString());
        Assert.StartsWith("PgSource.ManifestInvalid,", error.FullyQualifiedErrorId);
        Assert.Contains("broken.yaml", error.Exception.Message);
        Assert.Contains("not valid YAML", error.Exception.Message);

        var missing = ps.Run("Import-PgSource -Path $p", new Hashtable { ["p"] = Path.Combine(_directory, "nothere.yaml") });
        Assert.StartsWith("PgSource.ManifestNotFound,", Assert.Single(missing.Errors).FullyQualifiedErrorId);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
