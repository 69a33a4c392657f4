using PostgresSource.Core.Naming;

namespace PostgresSource.Core.Tests;

public sealed class NamingTests
{
    [Fact]
    public void SeedVectorHolds()
    {
        // From the seed's own test: name mypostgres, uid d049318d-72c6-45e3-b8be-b0d4a38e82ad.
        Assert.Equal("postgressource_mypostgres_d049318d_72c6_45e3_b8be_b0d4a38e82ad",
            SourceObjectNames.DatabaseName("mypostgres", "d049318d-72c6-45e3-b8be-b0d4a38e82ad"));
    }

    [Fact]
    public void LongNamesAreHashedToSixtyThreeCharacters()
    {
        const string uid = "d049318d-72c6-45e3-b8be-b0d4a38e82ad";
        var name = SourceObjectNames.KubernetesName("a-very-long-source-name-for-orders", uid);
        var parent = "postgressource-a-very-long-source-name-for-orders-";
        var md5 = Convert.ToHexString(System.Security.Cryptography.MD5.HashData(System.Text.Encoding.UTF8.GetBytes(parent + uid))).ToLowerInvariant();
        Assert.Equal(63, name.Length);
        Assert.Equal(parent[..31] + md5, name);
    }

    [Fact]
    public void ShortParentWithLongSuffixIsPaddedWithTheSuffix()
    {
        // parent + suffix > 63 but the parent is shorter than 31: parent + md5 + start of suffix, to 63.
        var parent = "p-";
        var suffix = new string('x', 70);
        var name = ChildName.Make(parent, suffix);
        Assert.Equal(63, name.Length);
        Assert.StartsWith(parent, name);
        Assert.EndsWith(new string('x', 63 - 2 - 32), name);
    }

    [Fact]
    public void TrailingNonAlphanumericsAreCut()
    {
        Assert.Equal("postgressource_orders", SourceObjectNames.DatabaseName("orders", null));
    }

    [Theory]
    [InlineData("mypostgres", "d049318d-72c6-45e3-b8be-b0d4a38e82ad")]
    [InlineData("my-orders", "00000000-1111-2222-3333-444444444444")]
    [InlineData("orders", null)]
    public void ReadableNamesParseBack(string name, string? uid)
    {
        var objectName = SourceObjectNames.DatabaseName(name, uid);
        Assert.True(SourceObjectNames.TryParseDatabaseName(objectName, out var parsedName, out var parsedUid));
        Assert.Equal(name, parsedName);
        Assert.Equal(uid, parsedUid);
    }

    [Fact]
    public void HashedNamesDoNotParse()
    {
        var objectName = SourceObjectNames.DatabaseName("a-very-long-source-name-for-orders", "d049318d-72c6-45e3-b8be-b0d4a38e82ad");
        Assert.False(SourceObjectNames.TryParseDatabaseName(objectName, out _, out _));
    }
}
