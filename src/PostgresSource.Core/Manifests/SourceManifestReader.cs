using PostgresSource.Core.Sources;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace PostgresSource.Core.Manifests;

/// <summary>
/// Reads PostgresSource custom resources as the seed writes them (sources.vaikas.dev/v1alpha1),
/// from multi-document YAML. Other kinds are skipped with a warning; a bad PostgresSource is an error
/// that names the file and the field, and does not stop the good ones in the same file.
/// </summary>
public static class SourceManifestReader
{
    public const string Group = "sources.vaikas.dev";
    public const string ApiVersion = Group + "/v1alpha1";
    public const string Kind = "PostgresSource";

    public sealed record Result(IReadOnlyList<SourceDefinition> Sources, IReadOnlyList<string> Warnings, IReadOnlyList<ManifestException> Errors);

    public static Result ReadFile(string path) => Read(File.ReadAllText(path), path);

    public static Result Read(string yaml, string fileName)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            throw new ManifestException(fileName, 0, null,
                $"not valid YAML at line {ex.Start.Line}, column {ex.Start.Column}: {ex.InnerException?.Message ?? ex.Message}", ex);
        }
        catch (InvalidOperationException ex)
        {
            // YamlDotNet's scanner throws this instead of a YamlException for some malformed input.
            throw new ManifestException(fileName, 0, null, "not valid YAML (the parser could not read it).", ex);
        }

        var sources = new List<SourceDefinition>();
        var warnings = new List<string>();
        var errors = new List<ManifestException>();
        var index = 0;
        foreach (var document in stream.Documents)
        {
            index++;
            if (document.RootNode is YamlScalarNode { Value: null or "" })
            {
                continue; // an empty document between separators
            }
            if (document.RootNode is not YamlMappingNode root)
            {
                errors.Add(new ManifestException(fileName, index, null, "the document is not a mapping (expected apiVersion, kind, metadata, spec)."));
                continue;
            }
            var kind = Scalar(root, "kind");
            var apiVersion = Scalar(root, "apiVersion");
            if (kind != Kind || apiVersion?.StartsWith(Group + "/", StringComparison.Ordinal) != true)
            {
                var name = Scalar(Child(root, "metadata"), "name");
                warnings.Add($"{fileName} (document {index}): skipped {kind ?? "a document without kind"}" +
                    (name is null ? string.Empty : $" '{name}'") + $" ({apiVersion ?? "no apiVersion"}): only {ApiVersion} {Kind} is read.");
                continue;
            }
            try
            {
                if (apiVersion != ApiVersion)
                {
                    throw new ManifestException(fileName, index, "apiVersion", $"'{apiVersion}' is not supported; use {ApiVersion}.");
                }
                sources.Add(ReadSource(root, fileName, index));
            }
            catch (ManifestException ex)
            {
                errors.Add(ex);
            }
        }
        return new Result(sources, warnings, errors);
    }

    private static SourceDefinition ReadSource(YamlMappingNode root, string file, int index)
    {
        ManifestException Error(string field, string message) => new(file, index, field, message);

        var metadata = Child(root, "metadata") as YamlMappingNode ?? throw Error("metadata", "is missing.");
        var name = Scalar(metadata, "name") ?? throw Error("metadata.name", "is missing.");
        var spec = Child(root, "spec") as YamlMappingNode ?? throw Error("spec", "is missing.");

        var tablesNode = Child(spec, "tables") as YamlSequenceNode ?? throw Error("spec.tables", "is missing or not a list.");
        var tables = new List<TableName>();
        for (var i = 0; i < tablesNode.Children.Count; i++)
        {
            var tableName = tablesNode.Children[i] is YamlMappingNode table ? Scalar(table, "name") : null;
            if (string.IsNullOrWhiteSpace(tableName))
            {
                throw Error($"spec.tables[{i}].name", "is missing.");
            }
            tables.Add(TableName.Parse(tableName));
        }
        if (tables.Count == 0)
        {
            throw Error("spec.tables", "is empty: name at least one table.");
        }

        var mode = CaptureMode.Notify;
        var modeText = Scalar(spec, "mode");
        if (modeText is not null && !Enum.TryParse(modeText, ignoreCase: true, out mode))
        {
            throw Error("spec.mode", $"'{modeText}' is not one of Notify, Durable, Logical.");
        }

        var definition = new SourceDefinition
        {
            Name = name,
            Namespace = Scalar(metadata, "namespace") ?? SourceDefinition.DefaultNamespace,
            Uid = Scalar(metadata, "uid"),
            Generation = long.TryParse(Scalar(metadata, "generation"), out var generation) ? generation : null,
            Tables = tables,
            Mode = mode,
            SecretName = Scalar(Child(spec, "secret"), "name"),
            ServiceAccountName = Scalar(spec, "serviceAccountName"),
            Sink = ReadSink(Child(spec, "sink"), Error),
            EventType = Scalar(spec, "eventType") ?? SourceDefinition.DefaultEventType,
            CeOverrideExtensions = ReadExtensions(Child(Child(spec, "ceOverrides"), "extensions"), Error),
        };
        try
        {
            return definition.Validate();
        }
        catch (SourceValidationException ex)
        {
            var field = ex.Field switch
            {
                "name" => "metadata.name",
                "namespace" => "metadata.namespace",
                "uid" => "metadata.uid",
                _ => "spec." + ex.Field,
            };
            throw Error(field, ex.Message);
        }
    }

    private static SinkReference? ReadSink(YamlNode? node, Func<string, string, ManifestException> error)
    {
        if (node is null)
        {
            return null;
        }
        if (node is not YamlMappingNode sink)
        {
            throw error("spec.sink", "must be a mapping with 'ref' or 'uri'.");
        }
        Uri? uri = null;
        var uriText = Scalar(sink, "uri");
        if (uriText is not null && !Uri.TryCreate(uriText, UriKind.RelativeOrAbsolute, out uri))
        {
            throw error("spec.sink.uri", $"'{uriText}' is not a URI.");
        }
        if (Child(sink, "ref") is YamlMappingNode reference)
        {
            return new SinkReference
            {
                Uri = uri,
                RefApiVersion = Scalar(reference, "apiVersion") ?? throw error("spec.sink.ref.apiVersion", "is missing."),
                RefKind = Scalar(reference, "kind") ?? throw error("spec.sink.ref.kind", "is missing."),
                RefName = Scalar(reference, "name") ?? throw error("spec.sink.ref.name", "is missing."),
                RefNamespace = Scalar(reference, "namespace"),
            };
        }
        if (uri is null || !uri.IsAbsoluteUri)
        {
            throw error("spec.sink", "needs 'ref' or an absolute 'uri'.");
        }
        return SinkReference.FromUri(uri);
    }

    private static Dictionary<string, string> ReadExtensions(YamlNode? node, Func<string, string, ManifestException> error)
    {
        var extensions = new Dictionary<string, string>(StringComparer.Ordinal);
        if (node is null)
        {
            return extensions;
        }
        if (node is not YamlMappingNode map)
        {
            throw error("spec.ceOverrides.extensions", "must be a mapping of name: value.");
        }
        foreach (var (key, value) in map.Children)
        {
            var name = ((YamlScalarNode)key).Value ?? string.Empty;
            extensions[name] = value is YamlScalarNode scalar
                ? scalar.Value ?? string.Empty
                : throw error($"spec.ceOverrides.extensions.{name}", "must be a string.");
        }
        return extensions;
    }

    private static YamlNode? Child(YamlNode? node, string key) =>
        node is YamlMappingNode map && map.Children.TryGetValue(new YamlScalarNode(key), out var child) ? child : null;

    private static string? Scalar(YamlNode? node, string key) =>
        Child(node, key) is YamlScalarNode { Value: { Length: > 0 } value } ? value : null;
}
