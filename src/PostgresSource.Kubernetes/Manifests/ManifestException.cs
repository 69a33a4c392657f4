using PostgresSource.Kubernetes;

namespace PostgresSource.Kubernetes.Manifests;

/// <summary>A manifest that cannot be read: names the file, the document, and the field at fault.</summary>
internal sealed class ManifestException(string file, int document, string? field, string message, Exception? inner = null)
    : Exception(Compose(file, document, field, message), inner)
{
    public string File { get; } = file;
    public int Document { get; } = document;
    public string? Field { get; } = field;

    private static string Compose(string file, int document, string? field, string message) =>
        field is null
            ? $"{file} (document {document}): {message}"
            : $"{file} (document {document}), field '{field}': {message}";
}
