using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Tests;

/// <summary>A remote server reached without certificate verification gets a warning; local ones and verified ones do not.</summary>
public sealed class ConnectionSecurityTests
{
    [Theory]
    [InlineData("Host=db.example.com;Username=u;Password=secret-pw", "db.example.com", "prefer")]
    [InlineData("postgres://u:secret-pw@10.0.0.5/app?sslmode=require", "10.0.0.5", "require")]
    [InlineData("host=db.internal dbname=app user=u sslmode=disable password=secret-pw", "db.internal", "disable")]
    [InlineData("Host=localhost,db2.example.com;Username=u;Password=secret-pw", "db2.example.com", "prefer")]
    public void ARemoteUnverifiedServerIsWarnedAbout(string connection, string host, string mode)
    {
        var warning = ConnectionSecurity.UnverifiedServerWarning(ConnectionSettings.Parse(connection));
        Assert.NotNull(warning);
        Assert.Contains(host, warning);
        Assert.Contains($"sslmode={mode}", warning);
        Assert.Contains("verify-full", warning);
        Assert.Contains("sslrootcert", warning);
        Assert.DoesNotContain("secret-pw", warning);
    }

    [Theory]
    [InlineData("Host=localhost;Username=u")]
    [InlineData("Host=127.0.0.1;Username=u")]
    [InlineData("Host=::1;Username=u")]
    [InlineData("postgres://u@[::1]:5433/app")]
    [InlineData("Host=/var/run/postgresql;Username=u")]
    [InlineData("Host=db.example.com;Username=u;SSL Mode=VerifyFull;Root Certificate=/etc/ca.crt")]
    [InlineData("postgres://u@db.example.com/app?sslmode=verify-ca&sslrootcert=/etc/ca.crt")]
    [InlineData("host=db.example.com user=u sslmode=verify-full sslrootcert=/etc/ca.crt")]
    public void LocalOrVerifiedServersAreNot(string connection) =>
        Assert.Null(ConnectionSecurity.UnverifiedServerWarning(ConnectionSettings.Parse(connection)));

    [Fact]
    public void TheMachinesOwnHostnameIsNotLoopback() =>
        Assert.NotNull(ConnectionSecurity.UnverifiedServerWarning(ConnectionSettings.Parse($"Host={System.Net.Dns.GetHostName()};Username=u")));

    [Theory]
    [InlineData("postgres://u@db.example.com/app?sslmode=verify-full&sslrootcert=%2Fetc%2Fpg%2Fca.crt")]
    [InlineData("host=db.example.com user=u sslmode=verify-full sslrootcert='/etc/pg/ca.crt'")]
    [InlineData("Host=db.example.com;Username=u;SSL Mode=VerifyFull;Root Certificate=/etc/pg/ca.crt")]
    public void SslRootCertIsReadInEveryForm(string connection)
    {
        var builder = ConnectionSettings.Parse(connection).ToBuilder();
        Assert.Equal(Npgsql.SslMode.VerifyFull, builder.SslMode);
        Assert.Equal("/etc/pg/ca.crt", builder.RootCertificate);
    }
}
