namespace PostgresSource.Core.Delivery;

/// <summary>The one rule for where events may be sent: an absolute http or https URL. Every host and reader checks it here.</summary>
internal static class SinkAddress
{
    public static bool IsHttp(Uri uri) => uri.IsAbsoluteUri && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    /// <summary>Parses <paramref name="text"/> as a sink URL; false for anything but an absolute http or https URL.</summary>
    public static bool TryParse(string text, out Uri uri)
    {
        if (Uri.TryCreate(text, UriKind.Absolute, out var parsed) && IsHttp(parsed))
        {
            uri = parsed;
            return true;
        }
        uri = null!;
        return false;
    }

    /// <summary>Returns <paramref name="uri"/>, or throws <see cref="ArgumentException"/> saying which sink (<paramref name="role"/>) is wrong.</summary>
    public static Uri Require(Uri uri, string role = "sink") => IsHttp(uri)
        ? uri
        : throw new ArgumentException($"The {role} '{HttpEventSink.Describe(uri)}' is not an absolute http or https URL.");
}
