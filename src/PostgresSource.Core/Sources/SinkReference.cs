namespace PostgresSource.Core.Sources;

/// <summary>A Knative Destination: either a URI, or a reference to an Addressable (optionally with a URI path).</summary>
internal sealed record SinkReference
{
    public Uri? Uri { get; init; }
    public string? RefApiVersion { get; init; }
    public string? RefKind { get; init; }
    public string? RefName { get; init; }
    public string? RefNamespace { get; init; }

    public bool IsRef => RefName is not null;

    public static SinkReference FromUri(Uri uri) => new() { Uri = uri };

    public override string ToString() =>
        IsRef
            ? $"{RefKind}/{RefName}" + (RefNamespace is null ? string.Empty : $" ({RefNamespace})") + (Uri is null ? string.Empty : $" {Uri}")
            : Uri?.ToString() ?? string.Empty;
}
