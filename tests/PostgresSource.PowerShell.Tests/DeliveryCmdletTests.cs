using System.Collections;
using System.Collections.Specialized;
using PostgresSource.TestSupport;

namespace PostgresSource.PowerShell.Tests;

/// <summary>spec.delivery through the cmdlets: New-PgSource's delivery parameters, Import-PgSource, Export-PgSourceManifest.</summary>
public sealed class DeliveryCmdletTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("pgsource-delivery-").FullName;

    private const string NewOrders = "New-PgSource -Name orders -Table orders -SecretName sql-secret -Sink http://receiver.default.svc.cluster.local/";

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void NewPgSourceTakesTheDeliveryChoicesIntoTheManifest()
    {
        using var ps = PowerShellSession.Open();
        var created = ps.Run(NewOrders + " -OnUndeliverable Skip -Ordering key -MaxInFlight 8 -Retry 3 -RetryTime '00:10:00' -DeadLetterSink http://dead.default.svc.cluster.local/");
        Assert.Empty(created.Errors);
        var delivery = (OrderedDictionary)created.Property(0, "Delivery")!;
        Assert.Equal(["OnUndeliverable", "Ordering", "MaxInFlight", "Retry", "RetryTime", "DeadLetterSink"], delivery.Keys.Cast<string>());
        Assert.Equal("Skip", delivery["OnUndeliverable"]);
        Assert.Equal("Key", delivery["Ordering"]);
        Assert.Equal(8, delivery["MaxInFlight"]);
        Assert.Equal(3, delivery["Retry"]);
        Assert.Equal(TimeSpan.FromMinutes(10), delivery["RetryTime"]);
        Assert.Equal("http://dead.default.svc.cluster.local/", delivery["DeadLetterSink"]);

        var exported = ps.Run(NewOrders + " -OnUndeliverable Skip -Ordering Key -MaxInFlight 8 -Retry 3 -RetryTime ([TimeSpan]::FromMinutes(10)) -DeadLetterSink http://dead.default.svc.cluster.local/ | Export-PgSourceManifest");
        Assert.Empty(exported.Errors);
        var yaml = ((string)Assert.Single(exported.Output).BaseObject).Replace("\r\n", "\n");
        Assert.Contains("""
              delivery:
                onUndeliverable: skip
                ordering: key
                maxInFlight: 8
                retry: 3
                retryTime: PT10M
                deadLetterSink:
                  uri: http://dead.default.svc.cluster.local/
            """, yaml);
        Assert.Matches("- name: PGSOURCE_DELIVERY_ATTEMPTS\n +value: \"4\"\n", yaml);
        Assert.Matches("- name: PGSOURCE_ON_UNDELIVERABLE\n +value: skip\n", yaml);
        Assert.Matches("- name: PGSOURCE_DEAD_LETTER_SINK\n +value: http://dead.default.svc.cluster.local/\n", yaml);

        // And the exported YAML imports as the same choices.
        var path = Path.Combine(_directory, "orders.yaml");
        File.WriteAllText(path, yaml);
        var imported = ps.Run("Import-PgSource -Path $p", new Hashtable { ["p"] = path });
        Assert.Empty(imported.Errors);
        Assert.Equal(delivery.Cast<DictionaryEntry>().Select(e => $"{e.Key}={e.Value}"),
            ((OrderedDictionary)imported.Property(0, "Delivery")!).Cast<DictionaryEntry>().Select(e => $"{e.Key}={e.Value}"));
    }

    [Fact]
    public void WithoutDeliveryParametersNothingIsWritten()
    {
        using var ps = PowerShellSession.Open();
        var result = ps.Run(NewOrders + " | Export-PgSourceManifest");
        Assert.Empty(result.Errors);
        var yaml = (string)Assert.Single(result.Output).BaseObject;
        Assert.DoesNotContain("delivery:", yaml);
        Assert.DoesNotContain("PGSOURCE_ORDERING", yaml);
        Assert.DoesNotContain("PGSOURCE_DELIVERY_ATTEMPTS", yaml);
        Assert.Empty((OrderedDictionary)ps.Run(NewOrders).Property(0, "Delivery")!);
    }

    [Fact]
    public void BadDeliveryChoicesAreClearErrors()
    {
        using var ps = PowerShellSession.Open();
        var commit = ps.Run(NewOrders + " -Ordering Commit -MaxInFlight 4");
        var error = Assert.Single(commit.Errors);
        Assert.Equal("PgSource.InvalidSource,PostgresSource.PowerShell.Cmdlets.NewPgSourceCommand", error.FullyQualifiedErrorId);
        Assert.Contains("commit order allows one delivery in flight", error.Exception.Message);

        var deadLetter = ps.Run(NewOrders + " -DeadLetterSink /relative");
        Assert.Contains("http or https", Assert.Single(deadLetter.Errors).Exception.Message);

        Assert.NotEmpty(ps.Run(NewOrders + " -Ordering Sometimes").Errors);
        Assert.NotEmpty(ps.Run(NewOrders + " -MaxInFlight 0").Errors);
        Assert.NotEmpty(ps.Run(NewOrders + " -Retry -1").Errors);
    }

    [Fact]
    public void ImportNamesTheBadDeliveryField()
    {
        var path = Path.Combine(_directory, "bad.yaml");
        File.WriteAllText(path, SeedManifests.Source + "\n  delivery:\n    ordering: sometimes\n");
        using var ps = PowerShellSession.Open();
        var result = ps.Run("Import-PgSource -Path $p", new Hashtable { ["p"] = path });
        var error = Assert.Single(result.Errors);
        Assert.StartsWith("PgSource.ManifestInvalid,", error.FullyQualifiedErrorId);
        Assert.Contains("field 'spec.delivery.ordering'", error.Exception.Message);
        Assert.Contains("'sometimes' is not one of commit, key, unordered.", error.Exception.Message);
    }
}
