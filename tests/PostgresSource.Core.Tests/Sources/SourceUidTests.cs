using PostgresSource.Core.Naming;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Tests.Sources;

/// <summary>Every spelling of a UID names objects as the Go controller does (lowercase, hyphenated); anything else is refused.</summary>
public sealed class SourceUidTests
{
    private const string Canonical = "d049318d-72c6-45e3-b8be-b0d4a38e82ad";

    [Theory]
    [InlineData(Canonical)]
    [InlineData("D049318D-72C6-45E3-B8BE-B0D4A38E82AD")]
    [InlineData("{d049318d-72c6-45e3-b8be-b0d4a38e82ad}")]
    [InlineData("{D049318D-72C6-45E3-B8BE-B0D4A38E82AD}")]
    [InlineData("(d049318d-72c6-45e3-b8be-b0d4a38e82ad)")]
    [InlineData("d049318d72c645e3b8beb0d4a38e82ad")]
    [InlineData("D049318D72C645E3B8BEB0D4A38E82AD")]
    [InlineData("  d049318d-72c6-45e3-b8be-b0d4a38e82ad  ")]
    public void EverySpellingBecomesTheCanonicalForm(string spelling)
    {
        Assert.Equal(Canonical, SourceUid.Normalize(spelling));
        var source = new SourceDefinition { Name = "mypostgres", Uid = spelling, Tables = [new TableName(null, "t")] }.Validate();
        Assert.Equal(Canonical, source.Uid);
        Assert.Equal("postgressource_mypostgres_d049318d_72c6_45e3_b8be_b0d4a38e82ad", source.DatabaseObjectName);
        Assert.Equal(SourceObjectNames.DatabaseName("mypostgres", Canonical), SourceObjectNames.DatabaseName("mypostgres", spelling));
    }

    [Theory]
    [InlineData("urn:uuid:d049318d-72c6-45e3-b8be-b0d4a38e82ad")]
    [InlineData("d049318d-72c6-45e3-b8be-b0d4a38e82")]
    [InlineData("d049318d-72c6-45e3-b8be-b0d4a38e82adff")]
    [InlineData("g049318d-72c6-45e3-b8be-b0d4a38e82ad")]
    [InlineData("not-a-uid")]
    [InlineData("")]
    [InlineData(" ")]
    public void AnythingElseIsRefusedNamingTheFieldAndTheForm(string text)
    {
        Assert.False(SourceUid.TryNormalize(text, out _));
        var error = Assert.Throws<SourceValidationException>(() => SourceUid.Normalize(text, "metadata.uid"));
        Assert.Equal("metadata.uid", error.Field);
        Assert.Contains("01234567-89ab-cdef-0123-456789abcdef", error.Message);

        var source = new SourceDefinition { Name = "mypostgres", Uid = text, Tables = [new TableName(null, "t")] };
        Assert.Equal("uid", Assert.Throws<SourceValidationException>(() => source.Validate()).Field);
        // No name is ever made from it either.
        Assert.Throws<SourceValidationException>(() => source.DatabaseObjectName);
    }

    [Fact]
    public void NoUidStaysNone()
    {
        Assert.Null(SourceUid.NormalizeOptional(null));
        Assert.Equal("postgressource_shop", new SourceDefinition { Name = "shop", Tables = [] }.DatabaseObjectName);
    }

    [Fact]
    public void WithKeepsTheCanonicalForm()
    {
        var source = new SourceDefinition { Name = "shop", Tables = [] } with { Uid = Canonical.ToUpperInvariant() };
        Assert.Equal(Canonical, source.Uid);
    }
}
