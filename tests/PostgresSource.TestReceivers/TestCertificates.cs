using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PostgresSource.TestReceivers;

/// <summary>A throwaway certificate authority and a server certificate it signed for 127.0.0.1/localhost.</summary>
public sealed class TestCertificates : IDisposable
{
    private TestCertificates(X509Certificate2 authority, X509Certificate2 server, string authorityPemFile)
    {
        Authority = authority;
        Server = server;
        AuthorityPemFile = authorityPemFile;
    }

    public X509Certificate2 Authority { get; }

    /// <summary>The server certificate with its private key, ready for Kestrel.</summary>
    public X509Certificate2 Server { get; }

    /// <summary>The authority's certificate as a PEM file (what a user passes as the custom CA).</summary>
    public string AuthorityPemFile { get; }

    /// <summary>The authority's certificate as PEM text (what Knative passes as CACerts, K_CA_CERTS).</summary>
    public string AuthorityPem => File.ReadAllText(AuthorityPemFile);

    /// <param name="serverDnsName">null: the server certificate is for 127.0.0.1 and localhost; else for this DNS name only.</param>
    public static TestCertificates Create(string? serverDnsName = null)
    {
        using var authorityKey = RSA.Create(2048);
        var authorityRequest = new CertificateRequest("CN=PostgresSource Test CA", authorityKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        authorityRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        authorityRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        authorityRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(authorityRequest.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        var authority = authorityRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));

        using var serverKey = RSA.Create(2048);
        var serverRequest = new CertificateRequest("CN=" + (serverDnsName ?? "127.0.0.1"), serverKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        if (serverDnsName is null)
        {
            names.AddIpAddress(IPAddress.Loopback);
            names.AddDnsName("localhost");
        }
        else
        {
            names.AddDnsName(serverDnsName);
        }
        serverRequest.CertificateExtensions.Add(names.Build());
        serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        serverRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        serverRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        using var signed = serverRequest.Create(authority, now.AddDays(-1), now.AddDays(29), serial);
        using var withKey = signed.CopyWithPrivateKey(serverKey);
        // Round-trip through PKCS#12 so the key is usable by SslStream on every platform.
        var server = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pfx), null);

        var pemFile = Path.Combine(Path.GetTempPath(), $"pgsource-test-ca-{Guid.NewGuid():N}.pem");
        File.WriteAllText(pemFile, authority.ExportCertificatePem());
        return new TestCertificates(X509CertificateLoader.LoadCertificate(authority.RawData), server, pemFile);
    }

    public void Dispose()
    {
        Authority.Dispose();
        Server.Dispose();
        File.Delete(AuthorityPemFile);
    }
}
