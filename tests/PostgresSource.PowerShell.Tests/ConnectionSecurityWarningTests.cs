namespace PostgresSource.PowerShell.Tests;

/// <summary>A cmdlet reaching a remote server without certificate verification warns once per command; a local or verified one does not.</summary>
public sealed class ConnectionSecurityWarningTests
{
    [Fact]
    public void ARemoteUnverifiedServerIsOneWarningPerCommand()
    {
        using var session = PowerShellSession.Open();
        // Port 9 on a name that never resolves: the connection fails, after the warning.
        var result = session.Run("""
            $c = 'Host=db.invalid;Port=9;Username=u;Password=secret-pw;Timeout=2'
            'a', 'b' | ForEach-Object { New-PgSource -Name $_ -Table t -ConnectionString $c } | Test-PgSourceConnection
            """);
        var warning = Assert.Single(result.Warnings);
        Assert.Contains("db.invalid", warning);
        Assert.Contains("verify-full", warning);
        Assert.DoesNotContain("secret-pw", PowerShellSession.AllText(result));
    }

    [Theory]
    [InlineData("Host=127.0.0.1;Port=9;Username=u;Timeout=2")]
    [InlineData("postgres://u@db.invalid:9/app?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt&connect_timeout=2")]
    public void LocalOrVerifiedServersAreNot(string connection)
    {
        using var session = PowerShellSession.Open();
        var result = session.Run("Test-PgSourceConnection -ConnectionString $c", new System.Collections.Hashtable { ["c"] = connection });
        Assert.Empty(result.Warnings);
    }
}
