namespace PostgresSource.Core.Delivery;

internal sealed record HttpSinkOptions
{
    public EventContentMode ContentMode { get; init; } = EventContentMode.Binary;

    /// <summary>A PEM (or DER) file with the CA certificate(s) an HTTPS sink's chain is checked against, besides the system's roots.</summary>
    public string? CaCertificateFile { get; init; }

    /// <summary>How long one attempt may take, response included, before it counts as a network error.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public static HttpSinkOptions Default { get; } = new();
}
