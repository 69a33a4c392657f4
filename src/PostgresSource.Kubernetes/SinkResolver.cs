using PostgresSource.Core.Diagnostics;
using PostgresSource.Core.Hosting;
using PostgresSource.Core.Sources;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes;

/// <summary>
/// Turns a source's sink into the URL the adapter sends to (K_SINK), as Knative's resolver does: a URI as is;
/// a Kubernetes Service to its cluster-local URL; any other reference to the Addressable's status.address.url.
/// A relative sink.uri next to a reference is resolved against the reference's URL. The same rules resolve
/// spec.delivery.deadLetterSink (PGSOURCE_DEAD_LETTER_SINK). The sink's CA certificates and OIDC audience come with the
/// URL: the Destination's CACerts and audience, else the Addressable's status.address.CACerts and .audience.
/// </summary>
internal sealed class SinkResolver(IClusterApi api)
{
    private IReadOnlyDictionary<string, string>? _preferredVersions;

    /// <summary>
    /// A resolved Destination: the URL, and the sink's TLS CA certificates (PEM) and OIDC audience when known
    /// (the Destination's own CACerts and audience, else the Addressable's status.address.CACerts and .audience).
    /// </summary>
    public sealed record Resolution(string Uri, string? Warning, string? CaCerts = null, string? Audience = null)
    {
        /// <summary>A Destination's own CACerts and audience win; the addressed object's fill what it leaves out.</summary>
        public static Resolution Of(string uri, string? warning, SinkReference sink, string? addressCaCerts = null, string? addressAudience = null) =>
            new(uri, warning, sink.CaCerts ?? addressCaCerts, sink.Audience ?? addressAudience);
    }

    /// <summary>The dead-letter sink's role in messages ("The dead-letter sink of default/orders does not resolve: ...").</summary>
    public const string DeadLetterSinkRole = "dead-letter sink";

    public Task<Resolution> ResolveAsync(SourceDefinition source, CancellationToken cancellationToken) =>
        ResolveAsync(source, source.Sink ?? throw NoSink(source), "sink", cancellationToken);

    /// <summary>Resolves any Destination of the source (its sink, or spec.delivery.deadLetterSink); <paramref name="role"/> names it in messages.</summary>
    public async Task<Resolution> ResolveAsync(SourceDefinition source, SinkReference sink, string role, CancellationToken cancellationToken)
    {
        if (!sink.IsRef)
        {
            return Resolution.Of(AbsoluteUri(source, sink, role), null, sink);
        }

        var @namespace = sink.RefNamespace ?? source.Namespace;
        var description = $"{sink.RefKind} {@namespace}/{sink.RefName} ({sink.RefApiVersion})";
        if (IsCoreService(sink))
        {
            var service = await api.GetAsync(ResourceType.Service, @namespace, sink.RefName!, cancellationToken);
            if (service is null)
            {
                throw new SinkResolutionException($"The {role} of {source.EventSource} does not resolve: the Service {@namespace}/{sink.RefName} does not exist.");
            }
            return Resolution.Of(Combine(ServiceUrl(sink.RefName!, @namespace), sink.Uri), null, sink);
        }

        var type = ResourceType.ForReference(sink.RefApiVersion!, sink.RefKind!);
        string? warning = null;
        System.Text.Json.Nodes.JsonObject? target;
        try
        {
            target = await api.GetAsync(type, @namespace, sink.RefName!, cancellationToken);
        }
        catch (ClusterRequestException ex) when (ex.IsResourceTypeMissing)
        {
            // The seed's YAML names eventing.knative.dev/v1beta1, which current Knative no longer serves:
            // the address is the same in the version the cluster prefers.
            _preferredVersions ??= await api.GetPreferredVersionsAsync(cancellationToken);
            if (type.Group.Length == 0 || !_preferredVersions.TryGetValue(type.Group, out var preferred) || preferred == type.Version)
            {
                throw new SinkResolutionException(
                    $"The {role} of {source.EventSource} does not resolve: the cluster does not serve {sink.RefKind} in {sink.RefApiVersion}" +
                    (type.Group.StartsWith("eventing.knative.dev", StringComparison.Ordinal) || type.Group.EndsWith(".knative.dev", StringComparison.Ordinal)
                        ? " (is Knative Eventing installed?)." : "."), ex);
            }
            warning = $"The {role} of {source.EventSource} names {sink.RefApiVersion}, which the cluster does not serve; resolved it through {type.Group}/{preferred} instead.";
            type = type with { Version = preferred };
            target = await api.GetAsync(type, @namespace, sink.RefName!, cancellationToken);
        }

        if (target is null)
        {
            throw new SinkResolutionException($"The {role} of {source.EventSource} does not resolve: {description} does not exist.");
        }
        var url = JsonTree.GetString(target, "status", "address", "url");
        if (string.IsNullOrEmpty(url))
        {
            throw new SinkResolutionException(
                $"The {role} of {source.EventSource} does not resolve: {description} has no status.address.url (it is not ready yet, or not Addressable).");
        }
        return Resolution.Of(Combine(url, sink.Uri), warning, sink,
            NonEmpty(JsonTree.GetString(target, "status", "address", "CACerts")), NonEmpty(JsonTree.GetString(target, "status", "address", "audience")));
    }

    /// <summary>
    /// Resolution without a cluster (Export-PgSourceManifest): a URI; a Service's cluster-local URL; a Knative Broker's
    /// ingress URL for the default (MT channel-based) broker class. Other references need a cluster.
    /// </summary>
    public static Resolution ResolveOffline(SourceDefinition source) =>
        ResolveOffline(source, source.Sink ?? throw NoSink(source), "sink",
            "its URL has to be given, or read from its status.address.url in the cluster.", Remedy.GiveSinkUri);

    /// <summary>
    /// Offline resolution of any Destination of the source; <paramref name="hint"/> ends the message when it needs a cluster,
    /// and <paramref name="remedy"/> is the exception's remedy then.
    /// </summary>
    public static Resolution ResolveOffline(SourceDefinition source, SinkReference sink, string role, string hint, Remedy remedy = Remedy.None)
    {
        if (!sink.IsRef)
        {
            return Resolution.Of(AbsoluteUri(source, sink, role), null, sink);
        }
        var @namespace = sink.RefNamespace ?? source.Namespace;
        if (IsCoreService(sink))
        {
            return Resolution.Of(Combine(ServiceUrl(sink.RefName!, @namespace), sink.Uri), null, sink);
        }
        if (sink.RefKind == "Broker" && sink.RefApiVersion?.StartsWith("eventing.knative.dev/", StringComparison.Ordinal) == true)
        {
            var url = $"http://broker-ingress.knative-eventing.svc.cluster.local/{@namespace}/{sink.RefName}";
            var variable = role == "sink" ? AdapterSettings.Sink.Variable : role == DeadLetterSinkRole ? AdapterSettings.DeadLetterSink.Variable : "its URL";
            return Resolution.Of(Combine(url, sink.Uri),
                $"The {role} of {source.EventSource} is Broker {@namespace}/{sink.RefName}: {variable} is set to {url}, the ingress of the default (MT channel-based) broker class. Sync-PgSourceCluster reads the Broker's real address instead.",
                sink);
        }
        throw new SinkResolutionException(
            $"The {role} of {source.EventSource} ({sink.RefKind} {@namespace}/{sink.RefName}) cannot be resolved without a cluster: {hint}")
        {
            Remedy = remedy,
        };
    }

    private static string? NonEmpty(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;

    private static bool IsCoreService(SinkReference sink) => sink.RefKind == "Service" && sink.RefApiVersion == "v1";

    private static string ServiceUrl(string name, string @namespace) => $"http://{name}.{@namespace}.svc.cluster.local";

    private static string AbsoluteUri(SourceDefinition source, SinkReference sink, string role) =>
        sink.Uri is { IsAbsoluteUri: true } uri
            ? uri.OriginalString
            : throw new SinkResolutionException($"The {role} of {source.EventSource} needs a ref or an absolute uri.");

    private static string Combine(string baseUrl, Uri? relative)
    {
        if (relative is null || relative.OriginalString.Length == 0)
        {
            return baseUrl;
        }
        if (relative.IsAbsoluteUri)
        {
            return relative.OriginalString;
        }
        return new Uri(new Uri(baseUrl), relative).ToString();
    }

    private static SinkResolutionException NoSink(SourceDefinition source) =>
        new($"{source.EventSource} has no sink: it needs one (spec.sink in YAML) before it goes into a cluster.") { Remedy = Remedy.GiveSink };
}
