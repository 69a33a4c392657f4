using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Npgsql;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.TestSupport;

namespace PostgresSource.Core.Tests.Security;

/// <summary>
/// sslmode=verify-full with a root certificate against a real server over TLS (a cluster of this class's own, so
/// the shared server keeps its settings): the right CA connects, a wrong one is refused.
/// </summary>
public sealed class TlsConnectionTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "pgsource-tls-" + Guid.NewGuid().ToString("N")[..8]);
    private LocalCluster _cluster = null!;
    private string _rightCa = null!;
    private string _wrongCa = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        var (authority, serverCert, serverKey) = Issue();
        _rightCa = Path.Combine(_folder, "right-ca.crt");
        await File.WriteAllTextAsync(_rightCa, authority);
        _wrongCa = Path.Combine(_folder, "wrong-ca.crt");
        await File.WriteAllTextAsync(_wrongCa, Issue().Authority);
        _cluster = await LocalCluster.StartAsync(
            settings: new Dictionary<string, string> { ["ssl"] = "on", ["ssl_cert_file"] = "'server.crt'", ["ssl_key_file"] = "'server.key'" },
            files: new Dictionary<string, string> { ["server.crt"] = serverCert, ["server.key"] = serverKey });
    }

    /// <summary>A throwaway CA and a server certificate it signed for localhost and 127.0.0.1, as PEM.</summary>
    private static (string Authority, string ServerCert, string ServerKey) Issue()
    {
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=PostgresSource TLS test CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        using var ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));

        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        using var server = request.Create(ca, now.AddDays(-1), now.AddDays(29), RandomNumberGenerator.GetBytes(16));
        return (ca.ExportCertificatePem(), server.ExportCertificatePem(), key.ExportRSAPrivateKeyPem());
    }

    private string Url(string host, string ca) =>
        $"postgres://postgres:{_cluster.Password}@{host}:{_cluster.Port}/postgres?sslmode=verify-full&sslrootcert={Uri.EscapeDataString(ca)}";

    [Theory]
    [InlineData("localhost")]
    [InlineData("127.0.0.1")]
    public async Task VerifyFullWithTheRightRootCertificateConnectsOverTls(string host)
    {
        var settings = ConnectionSettings.Parse(Url(host, _rightCa));
        Assert.Null(ConnectionSecurity.UnverifiedServerWarning(settings));
        var result = await ConnectionTester.TestAsync(settings, TimeSpan.FromSeconds(10));
        Assert.True(result.Success, result.Reason);

        await using var connection = new NpgsqlConnection(settings.ToNpgsqlConnectionString());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", connection);
        Assert.True((bool)(await command.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task VerifyFullWithAnotherCaIsRefusedWithAClearError()
    {
        var result = await ConnectionTester.TestAsync(ConnectionSettings.Parse(Url("localhost", _wrongCa)), TimeSpan.FromSeconds(10));
        Assert.False(result.Success);
        Assert.False(string.IsNullOrEmpty(result.Reason));
        Assert.DoesNotContain(_cluster.Password, result.Reason);
        Assert.Matches("(?i)certificate|ssl|tls", result.Reason);
    }

    [Fact]
    public async Task TheRootCertificateOfTheAdapterVariableTurnsVerificationOn()
    {
        // PGSOURCE_DB_ROOT_CERT goes through WithRootCertificate: a connection string without sslmode verifies too.
        var plain = ConnectionSettings.Parse($"Host=localhost;Port={_cluster.Port};Username=postgres;Password={_cluster.Password};Database=postgres");
        Assert.True((await ConnectionTester.TestAsync(plain.WithRootCertificate(_rightCa), TimeSpan.FromSeconds(10))).Success);
        Assert.False((await ConnectionTester.TestAsync(plain.WithRootCertificate(_wrongCa), TimeSpan.FromSeconds(10))).Success);
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }
}
