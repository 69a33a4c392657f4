using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Tests;

/// <summary>
/// The core and the Kubernetes assembly are libraries of this repository's hosts, not a public API: a type made
/// public by accident would be a contract nobody meant to keep. Only the three enums of the user's vocabulary are.
/// </summary>
public sealed class PublicSurfaceTests
{
    [Fact]
    public void TheCoreExportsOnlyTheVocabularyEnums()
    {
        var exported = typeof(SourceDefinition).Assembly.GetExportedTypes().Select(type => type.FullName).Order().ToList();

        Assert.Equal(
            ["PostgresSource.Core.Delivery.DeliveryOrder", "PostgresSource.Core.Delivery.EventContentMode", "PostgresSource.Core.Sources.CaptureMode"],
            exported);
    }
}
