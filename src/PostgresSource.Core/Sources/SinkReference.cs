namespace PostgresSource.Core.Sources;

/// <summary>A Knative Destination: either a URI, or a reference to an Addressable (optionally with a URI path).</summary>
internal sealed record SinkReference
{
    public Uri? Uri { get; init; }
    public string? RefApiVersion { get; init; }
    public string? RefKind { get; init; }
    public string? RefName { get; init; }
    public string? RefNamespace { get; init; }

    /// <summary>Destination.CACerts: PEM CA certificates of the sink's TLS; they win over the Addressable's status.address.CACerts.</summary>
    public string? CaCerts { get; init; }

    /// <summary>Destination.audience: the sink's OIDC audience; it wins over the Addressable's status.address.audience.</summary>
    public string? Audience { get; init; }

    public bool IsRef => RefName is not null;

    public static SinkReference FromUri(Uri uri) => new() { Uri = uri };

    public override string ToString() =>
        IsRef
            ? $"{RefKind}/{RefName}" + (RefNamespace is null ? string.Empty : $" ({RefNamespace})") + (Uri is null ? string.Empty : $" {Uri}")
            : Uri?.ToString() ?? string.Empty;
}
