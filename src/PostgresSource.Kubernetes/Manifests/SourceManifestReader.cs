using System.Globalization;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Listening;
using PostgresSource.Core.Sources;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;
using PostgresSource.Kubernetes;

namespace PostgresSource.Kubernetes.Manifests;

/// <summary>
/// Reads PostgresSource custom resources as the seed writes them (sources.vaikas.dev/v1alpha1),
/// from multi-document YAML. Other kinds are skipped with a warning; a bad PostgresSource is an error
/// that names the file and the field, and does not stop the good ones in the same file.
/// </summary>
internal static class SourceManifestReader
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
                sources.Add(ReadSource(root, fileName, index, warnings));
            }
            catch (ManifestException ex)
            {
                errors.Add(ex);
            }
        }
        return new Result(sources, warnings, errors);
    }

    private static SourceDefinition ReadSource(YamlMappingNode root, string file, int index, List<string> warnings)
    {
        ManifestException Error(string field, string message) => new(file, index, field, message);

        var metadata = Child(root, "metadata") as YamlMappingNode ?? throw Error("metadata", "is missing.");
        var name = Scalar(metadata, "name") ?? throw Error("metadata.name", "is missing.");
        var spec = Child(root, "spec") as YamlMappingNode ?? throw Error("spec", "is missing.");

        var tablesNode = Child(spec, "tables") as YamlSequenceNode ?? throw Error("spec.tables", "is missing or not a list.");
        var tables = new List<TableName>();
        var filters = new List<TableFilter>();
        for (var i = 0; i < tablesNode.Children.Count; i++)
        {
            var tableName = tablesNode.Children[i] is YamlMappingNode table ? Scalar(table, "name") : null;
            if (string.IsNullOrWhiteSpace(tableName))
            {
                throw Error($"spec.tables[{i}].name", "is missing.");
            }
            tables.Add(TableName.Parse(tableName));
            try
            {
                // The entry's other fields are its filter, read as the adapter and the sync read them.
                if (ToJson(tablesNode.Children[i]) is System.Text.Json.Nodes.JsonObject entry && TableEntries.ReadFilter(entry, tables[^1], $"tables[{i}]") is { } filter)
                {
                    filters.Add(filter);
                }
            }
            catch (SourceValidationException ex)
            {
                throw Error("spec." + ex.Field, ex.Message);
            }
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
            Filters = filters,
            Mode = mode,
            SecretName = Scalar(Child(spec, "secret"), "name"),
            ServiceAccountName = Scalar(spec, "serviceAccountName"),
            DatabaseCaCert = ReadCaCertSecret(Child(Child(spec, "database"), "caCertSecret"), Error),
            Sink = ReadSink(Child(spec, "sink"), "spec.sink", Error),
            EventType = Scalar(spec, "eventType") ?? SourceDefinition.DefaultEventType,
            CeOverrideExtensions = ReadExtensions(Child(Child(spec, "ceOverrides"), "extensions"), Error),
            Delivery = ReadDelivery(Child(spec, "delivery"), Error, warning => warnings.Add($"{file} (document {index}): {warning}")),
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

    /// <summary>spec.database.caCertSecret: {name, key}; key defaults to ca.crt. Null when absent.</summary>
    private static SecretKeyReference? ReadCaCertSecret(YamlNode? node, Func<string, string, ManifestException> error)
    {
        if (node is null)
        {
            return null;
        }
        const string field = "spec.database.caCertSecret";
        var name = node is YamlMappingNode secret ? Scalar(secret, "name") : throw error(field, "must be a mapping with 'name' and optional 'key'.");
        if (string.IsNullOrWhiteSpace(name))
        {
            throw error(field + ".name", "is missing.");
        }
        var key = Scalar(secret, "key");
        return new SecretKeyReference(name, string.IsNullOrWhiteSpace(key) ? SecretKeyReference.DefaultCaKey : key);
    }

    /// <summary>A Knative Destination (spec.sink, spec.delivery.deadLetterSink): a ref, an absolute uri, or a ref plus a relative uri.</summary>
    private static SinkReference? ReadSink(YamlNode? node, string field, Func<string, string, ManifestException> error)
    {
        if (node is null)
        {
            return null;
        }
        if (node is not YamlMappingNode sink)
        {
            throw error(field, "must be a mapping with 'ref' or 'uri'.");
        }
        Uri? uri = null;
        var uriText = Scalar(sink, "uri");
        if (uriText is not null && !Uri.TryCreate(uriText, UriKind.RelativeOrAbsolute, out uri))
        {
            throw error(field + ".uri", $"'{uriText}' is not a URI.");
        }
        // Knative's Destination spells the CA certificates "CACerts".
        var caCerts = Scalar(sink, "CACerts");
        var audience = Scalar(sink, "audience");
        if (Child(sink, "ref") is YamlMappingNode reference)
        {
            return new SinkReference
            {
                Uri = uri,
                RefApiVersion = Scalar(reference, "apiVersion") ?? throw error(field + ".ref.apiVersion", "is missing."),
                RefKind = Scalar(reference, "kind") ?? throw error(field + ".ref.kind", "is missing."),
                RefName = Scalar(reference, "name") ?? throw error(field + ".ref.name", "is missing."),
                RefNamespace = Scalar(reference, "namespace"),
                CaCerts = caCerts,
                Audience = audience,
            };
        }
        if (uri is null || !uri.IsAbsoluteUri)
        {
            throw error(field, "needs 'ref' or an absolute 'uri'.");
        }
        return SinkReference.FromUri(uri) with { CaCerts = caCerts, Audience = audience };
    }

    private static readonly string[] DeliveryFields = ["onUndeliverable", "ordering", "maxInFlight", "retry", "retryTime", "deadLetterSink"];

    /// <summary>spec.delivery; null when absent. Values are checked here for their form, and by <see cref="SourceDelivery.Validate"/> for their range.</summary>
    private static SourceDelivery? ReadDelivery(YamlNode? node, Func<string, string, ManifestException> error, Action<string> warn)
    {
        if (node is null || node is YamlScalarNode { Value: null or "" })
        {
            return null;
        }
        if (node is not YamlMappingNode delivery)
        {
            throw error("spec.delivery", $"must be a mapping of {string.Join(", ", DeliveryFields)}.");
        }
        foreach (var key in delivery.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value ?? string.Empty))
        {
            if (!DeliveryFields.Contains(key, StringComparer.Ordinal))
            {
                warn($"spec.delivery.{key} is not a field of spec.delivery ({string.Join(", ", DeliveryFields)}); it is ignored, and the cluster would drop it.");
            }
        }

        UndeliverableAction? onUndeliverable = null;
        if (Scalar(delivery, "onUndeliverable") is { } actionText)
        {
            onUndeliverable = SourceDelivery.TryParseUndeliverable(actionText, out var action)
                ? action
                : throw error("spec.delivery.onUndeliverable", $"'{actionText}' is not one of stop, skip.");
        }
        DeliveryOrder? ordering = null;
        if (Scalar(delivery, "ordering") is { } orderText)
        {
            ordering = SourceDelivery.TryParseOrdering(orderText, out var order)
                ? order
                : throw error("spec.delivery.ordering", $"'{orderText}' is not one of commit, key, unordered.");
        }
        TimeSpan? retryTime = null;
        if (Scalar(delivery, "retryTime") is { } timeText)
        {
            retryTime = SourceDelivery.TryParseDuration(timeText, out var time)
                ? time
                : throw error("spec.delivery.retryTime", $"'{timeText}' is not an ISO 8601 duration (for example PT30S, PT10M or PT1H).");
        }

        var read = new SourceDelivery
        {
            OnUndeliverable = onUndeliverable,
            Ordering = ordering,
            MaxInFlight = Integer(delivery, "maxInFlight", "spec.delivery.maxInFlight", error),
            Retry = Integer(delivery, "retry", "spec.delivery.retry", error),
            RetryTime = retryTime,
            DeadLetterSink = ReadSink(Child(delivery, "deadLetterSink"), "spec.delivery.deadLetterSink", error),
        };
        return read.IsEmpty ? null : read;
    }

    private static int? Integer(YamlNode node, string key, string field, Func<string, string, ManifestException> error)
    {
        var child = Child(node, key);
        if (child is null || child is YamlScalarNode { Value: null or "" })
        {
            return null;
        }
        return child is YamlScalarNode { Value: { } text } && int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw error(field, "must be a whole number.");
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

    /// <summary>A YAML node as JSON: scalars as strings (the filter fields are all text), lists and mappings as such.</summary>
    private static System.Text.Json.Nodes.JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlScalarNode scalar => scalar.Value is null ? null : System.Text.Json.Nodes.JsonValue.Create(scalar.Value),
        YamlSequenceNode list => new System.Text.Json.Nodes.JsonArray([.. list.Children.Select(ToJson)]),
        YamlMappingNode map => new System.Text.Json.Nodes.JsonObject(map.Children
            .Where(p => p.Key is YamlScalarNode { Value: not null })
            .Select(p => KeyValuePair.Create(((YamlScalarNode)p.Key).Value!, ToJson(p.Value)))),
        _ => null,
    };

    private static YamlNode? Child(YamlNode? node, string key) =>
        node is YamlMappingNode map && map.Children.TryGetValue(new YamlScalarNode(key), out var child) ? child : null;

    private static string? Scalar(YamlNode? node, string key) =>
        Child(node, key) is YamlScalarNode { Value: { Length: > 0 } value } ? value : null;
}
