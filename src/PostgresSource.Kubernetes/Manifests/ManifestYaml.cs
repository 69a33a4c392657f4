using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;
using PostgresSource.Kubernetes;

namespace PostgresSource.Kubernetes.Manifests;

/// <summary>
/// Writes Kubernetes objects as multi-document YAML for kubectl apply -f, and reads YAML back into JSON trees.
/// Strings that YAML would read as something else (true, 1.0, null, 2024-01-01, ...) are quoted, so a label
/// value "true" stays a string. Keys keep their order, except apiVersion, kind and metadata come first.
/// </summary>
internal static partial class ManifestYaml
{
    private static readonly string[] LeadingKeys = ["apiVersion", "kind", "metadata"];
    private static readonly string[] MetadataKeys = ["name", "generateName", "namespace", "labels", "annotations", "ownerReferences"];

    public static string Write(IEnumerable<JsonObject> documents, IEnumerable<string>? headerComments = null)
    {
        var writer = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        foreach (var comment in headerComments ?? [])
        {
            writer.Write("# ");
            writer.WriteLine(comment);
        }
        var emitter = new Emitter(writer, bestIndent: 2, bestWidth: int.MaxValue);
        emitter.Emit(new StreamStart());
        foreach (var document in documents)
        {
            emitter.Emit(new DocumentStart(null, null, isImplicit: false));
            WriteNode(emitter, document, depth: 0, parentKey: null);
            emitter.Emit(new DocumentEnd(isImplicit: true));
        }
        emitter.Emit(new StreamEnd());
        return writer.ToString();
    }

    private static void WriteNode(IEmitter emitter, JsonNode? node, int depth, string? parentKey)
    {
        switch (node)
        {
            case null:
                emitter.Emit(new Scalar(null, null, "null", ScalarStyle.Plain, true, false));
                break;
            case JsonObject map:
                emitter.Emit(new MappingStart(null, null, true, map.Count == 0 ? MappingStyle.Flow : MappingStyle.Block));
                foreach (var (key, value) in Ordered(map, depth, parentKey))
                {
                    WriteString(emitter, key);
                    WriteNode(emitter, value, depth + 1, key);
                }
                emitter.Emit(new MappingEnd());
                break;
            case JsonArray list:
                emitter.Emit(new SequenceStart(null, null, true, list.Count == 0 ? SequenceStyle.Flow : SequenceStyle.Block));
                foreach (var item in list)
                {
                    WriteNode(emitter, item, depth + 1, null);
                }
                emitter.Emit(new SequenceEnd());
                break;
            case JsonValue value:
                switch (value.GetValueKind())
                {
                    case JsonValueKind.String:
                        WriteString(emitter, value.GetValue<string>());
                        break;
                    case JsonValueKind.True:
                        emitter.Emit(new Scalar(null, null, "true", ScalarStyle.Plain, true, false));
                        break;
                    case JsonValueKind.False:
                        emitter.Emit(new Scalar(null, null, "false", ScalarStyle.Plain, true, false));
                        break;
                    case JsonValueKind.Null:
                        emitter.Emit(new Scalar(null, null, "null", ScalarStyle.Plain, true, false));
                        break;
                    default:
                        emitter.Emit(new Scalar(null, null, value.ToJsonString(), ScalarStyle.Plain, true, false));
                        break;
                }
                break;
        }
    }

    private static IEnumerable<KeyValuePair<string, JsonNode?>> Ordered(JsonObject map, int depth, string? parentKey)
    {
        var first = depth == 0 ? LeadingKeys : parentKey == "metadata" && depth == 1 ? MetadataKeys : [];
        foreach (var key in first)
        {
            if (map.TryGetPropertyValue(key, out var value))
            {
                yield return new(key, value);
            }
        }
        foreach (var pair in map)
        {
            if (!first.Contains(pair.Key))
            {
                yield return pair;
            }
        }
    }

    private static void WriteString(IEmitter emitter, string text)
    {
        if (text.Contains('\n'))
        {
            emitter.Emit(new Scalar(null, null, text, ScalarStyle.Literal, false, true));
        }
        else if (ReadsAsNonString(text))
        {
            emitter.Emit(new Scalar(null, null, text, ScalarStyle.DoubleQuoted, false, true));
        }
        else
        {
            emitter.Emit(new Scalar(null, null, text, ScalarStyle.Any, true, true));
        }
    }

    /// <summary>True when a plain scalar with this text would be read as a bool, number, null or timestamp (YAML 1.1 or 1.2).</summary>
    public static bool ReadsAsNonString(string text) =>
        text.Length == 0 || NonStringScalar().IsMatch(text);

    [GeneratedRegex(@"^(~|null|Null|NULL|true|True|TRUE|false|False|FALSE|y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|[-+]?(\.inf|\.Inf|\.INF)|\.nan|\.NaN|\.NAN|[-+]?[0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?|[-+]?\.[0-9]+([eE][-+]?[0-9]+)?|[-+]?0x[0-9a-fA-F_]+|[-+]?0o[0-7]+|[-+]?0b[01_]+|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?)$")]
    private static partial Regex NonStringScalar();

    /// <summary>Reads every non-empty YAML document as a JSON tree (plain scalars typed by the YAML core schema).</summary>
    public static List<JsonNode?> Read(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var documents = new List<JsonNode?>();
        foreach (var document in stream.Documents)
        {
            if (document.RootNode is YamlScalarNode { Value: null or "" } && document.RootNode.Tag.IsEmpty)
            {
                continue;
            }
            documents.Add(ToJson(document.RootNode));
        }
        return documents;
    }

    public static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(p =>
            KeyValuePair.Create(((YamlScalarNode)p.Key).Value ?? string.Empty, ToJson(p.Value)))),
        YamlSequenceNode list => new JsonArray(list.Children.Select(ToJson).ToArray()),
        YamlScalarNode scalar => ScalarToJson(scalar),
        _ => null,
    };

    private static JsonNode? ScalarToJson(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? string.Empty;
        if (scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded ||
            (scalar.Tag.IsGlobal && scalar.Tag.Value == "tag:yaml.org,2002:str"))
        {
            return JsonValue.Create(text);
        }
        switch (text)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return null;
            case "true" or "True" or "TRUE":
                return JsonValue.Create(true);
            case "false" or "False" or "FALSE":
                return JsonValue.Create(false);
        }
        if (IntegerScalar().IsMatch(text) && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return JsonValue.Create(integer);
        }
        if (FloatScalar().IsMatch(text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            return JsonValue.Create(number);
        }
        return JsonValue.Create(text);
    }

    [GeneratedRegex(@"^[-+]?[0-9]+$")]
    private static partial Regex IntegerScalar();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatScalar();

    /// <summary>Compact one-line JSON (for messages and comparisons).</summary>
    public static string Compact(JsonNode? node) => node?.ToJsonString(new JsonSerializerOptions { WriteIndented = false }) ?? "null";
}
