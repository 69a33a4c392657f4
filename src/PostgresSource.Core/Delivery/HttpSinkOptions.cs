namespace PostgresSource.Core.Delivery;

internal sealed record HttpSinkOptions
{
    public EventContentMode ContentMode { get; init; } = EventContentMode.Binary;

    /// <summary>A PEM (or DER) file with the CA certificate(s) an HTTPS sink's chain is checked against, besides the system's roots.</summary>
    public string? CaCertificateFile { get; init; }

    /// <summary>
    /// PEM text with CA certificate(s) an HTTPS sink's chain is checked against, besides the system's roots and
    /// <see cref="CaCertificateFile"/> (Knative's K_CA_CERTS: the Destination's or the Addressable's CACerts).
    /// </summary>
    public string? CaCertificates { get; init; }

    /// <summary>
    /// A file holding a bearer token (an OIDC service account token for the sink's audience) sent as
    /// <c>Authorization: Bearer</c> to the sink's own scheme, host and port; read again when the file changes.
    /// </summary>
    public string? TokenFile { get; init; }

    /// <summary>How long one attempt may take, response included, before it counts as a network error.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public static HttpSinkOptions Default { get; } = new();
}
