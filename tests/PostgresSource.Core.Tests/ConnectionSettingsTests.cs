using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Tests;

public sealed class ConnectionSettingsTests
{
    [Fact]
    public void SeedUriIsUnderstood()
    {
        var settings = ConnectionSettings.Parse("postgres://foobar:really@127.0.0.1:5432/users");
        Assert.Equal("127.0.0.1", settings.Host);
        Assert.Equal(5432, settings.Port);
        Assert.Equal("users", settings.Database);
        Assert.Equal("foobar", settings.Username);
        Assert.True(settings.HasPassword);
        Assert.Equal("really", settings.ToBuilder().Password);
    }

    [Fact]
    public void LibpqKeywordsAreUnderstood()
    {
        var settings = ConnectionSettings.Parse("host=db.example port=6543 dbname='my db' user=app password=s3cr3t sslmode=require");
        Assert.Equal("db.example", settings.Host);
        Assert.Equal(6543, settings.Port);
        Assert.Equal("my db", settings.Database);
        Assert.Equal(Npgsql.SslMode.Require, settings.ToBuilder().SslMode);
    }

    [Theory]
    [InlineData("postgres://u:TopSecret99@h/db")]
    [InlineData("host=h user=u password=TopSecret99 dbname=db")]
    [InlineData("Host=h;Username=u;Password=TopSecret99;Database=db")]
    public void PasswordNeverShows(string text)
    {
        var settings = ConnectionSettings.Parse(text);
        Assert.DoesNotContain("TopSecret99", settings.ToDisplayString());
        Assert.DoesNotContain("TopSecret99", settings.ToString());
        Assert.Contains("Password=********", settings.ToDisplayString());
    }

    [Fact]
    public void BadStringErrorDoesNotQuoteIt()
    {
        var ex = Assert.Throws<ConnectionStringException>(() => ConnectionSettings.Parse("Host=h;Password=TopSecret99;Bogus Key=1"));
        Assert.DoesNotContain("TopSecret99", ex.Message);
    }

    [Fact]
    public void ExplicitBeatsEnvironmentBeatsPgVariables()
    {
        var environment = new Dictionary<string, string>
        {
            ["PGSOURCE_CONNECTION"] = "Host=fromvariable;Database=a",
            ["PGHOST"] = "frompg",
            ["PGDATABASE"] = "b",
        };
        Assert.Equal("explicit", ConnectionResolver.Resolve("Host=explicit", k => environment.GetValueOrDefault(k))!.Host);
        Assert.Equal("fromvariable", ConnectionResolver.Resolve(null, k => environment.GetValueOrDefault(k))!.Host);
        environment.Remove("PGSOURCE_CONNECTION");
        var fromPg = ConnectionResolver.Resolve(null, k => environment.GetValueOrDefault(k))!;
        Assert.Equal("frompg", fromPg.Host);
        Assert.Equal("b", fromPg.Database);
        Assert.Equal("PG* variables", fromPg.Origin);
        environment.Clear();
        Assert.Null(ConnectionResolver.Resolve(null, k => environment.GetValueOrDefault(k)));
        Assert.Throws<NoConnectionException>(() => ConnectionResolver.Require(null, k => environment.GetValueOrDefault(k)));
    }
}
