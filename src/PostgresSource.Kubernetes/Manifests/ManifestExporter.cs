using System.Text.Json.Nodes;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Core.Diagnostics;
using PostgresSource.Core.Sources;
using PostgresSource.Kubernetes;

namespace PostgresSource.Kubernetes.Manifests;

internal sealed record ExportOptions
{
    public string Image { get; init; } = PgSourceKube.DefaultImage;
    public bool IncludeCrd { get; init; }
    public bool IncludeClusterRole { get; init; }

    /// <summary>Write the controller's installation first (it includes the CRD and the adapter ClusterRole).</summary>
    public bool Controller { get; init; }

    /// <summary>The controller Deployment's image; its adapter image (PGSOURCE_ADAPTER_IMAGE) is <see cref="Image"/>.</summary>
    public string ControllerImage { get; init; } = PgSourceKube.DefaultControllerImage;

    /// <summary>Put every source in this namespace.</summary>
    public string? Namespace { get; init; }

    /// <summary>K_SINK for every source, instead of resolving its sink offline.</summary>
    public string? SinkUri { get; init; }

    /// <summary>Emit a Secret per source with its connection string (the source's own connection unless one of the two below is given).</summary>
    public bool IncludeSecret { get; init; }

    /// <summary>The connection string to put into the Secret.</summary>
    public string? SecretConnectionString { get; init; }

    /// <summary>User name and password to put into the Secret's connection string.</summary>
    public (string User, string Password)? SecretCredential { get; init; }
}

/// <summary>
/// Builds the YAML a GitOps repository (or kubectl apply -f) needs for a set of sources, without a cluster.
/// A source that has never been in a cluster has no UID: its objects are named "postgressource-&lt;name&gt;" and carry
/// no owner references. A Secret (the only place a password can appear) is written only when asked for.
/// </summary>
internal static class ManifestExporter
{
    public sealed record Result(IReadOnlyList<JsonObject> Documents, IReadOnlyList<string> Warnings, IReadOnlyList<(string Source, Exception Error)> Errors);

    public static Result Export(IReadOnlyList<SourceDefinition> sources, ExportOptions options)
    {
        var documents = new List<JsonObject>();
        var warnings = new List<string>();
        var errors = new List<(string, Exception)>();
        var schema = PostgresSourceCrd.SchemaJson();

        if (options.Controller)
        {
            documents.AddRange(ControllerManifests.Build(options.ControllerImage, options.Image).Select(o => o.Object));
        }
        else
        {
            if (options.IncludeCrd)
            {
                documents.Add(JsonTree.ToJson(PostgresSourceCrd.Build()));
            }
            if (options.IncludeClusterRole)
            {
                documents.Add(JsonTree.ToJson(SourceObjects.AdapterClusterRole()));
            }
        }

        foreach (var original in sources)
        {
            var source = options.Namespace is null ? original : original with { Namespace = options.Namespace };
            if (source.Sink is null && options.SinkUri is not null && Uri.TryCreate(options.SinkUri, UriKind.Absolute, out var given))
            {
                // A source made without -Sink: the sink given for the export becomes its spec.sink, so the
                // resource is complete (spec.sink is required) and names the URL its Deployment delivers to.
                source = source with { Sink = SinkReference.FromUri(given) };
            }
            try
            {
                source.Validate();
                SinkResolver.Resolution sink;
                if (options.SinkUri is not null)
                {
                    // The given URL replaces spec.sink's address; its CACerts and audience, when written, still apply.
                    sink = source.Sink is { } written ? SinkResolver.Resolution.Of(options.SinkUri, null, written) : new SinkResolver.Resolution(options.SinkUri, null);
                }
                else
                {
                    var resolution = SinkResolver.ResolveOffline(source);
                    sink = resolution;
                    if (resolution.Warning is not null)
                    {
                        warnings.Add(resolution.Warning);
                    }
                }

                SinkResolver.Resolution? deadLetter = null;
                if (source.Delivery?.DeadLetterSink is { } deadLetterSink)
                {
                    var resolution = SinkResolver.ResolveOffline(source, deadLetterSink, SinkResolver.DeadLetterSinkRole,
                        "give spec.delivery.deadLetterSink an absolute uri, or use Sync-PgSourceCluster, which reads its status.address.url.");
                    deadLetter = resolution;
                    if (resolution.Warning is not null)
                    {
                        warnings.Add(resolution.Warning);
                    }
                }

                var resource = SourceObjects.CustomResource(source);
                var schemaErrors = StructuralSchema.Validate(resource, schema);
                if (schemaErrors.Count > 0)
                {
                    throw new SourceValidationException("spec", $"{source.EventSource} does not fit the PostgresSource schema: {string.Join("; ", schemaErrors)}");
                }

                var perSource = new List<JsonObject>();
                if (SecretConnectionString(source, options) is { } connectionString)
                {
                    perSource.Add(JsonTree.ToJson(SourceObjects.ConnectionSecret(source, connectionString)));
                }
                else if (source.SecretName is null)
                {
                    warnings.Add($"{source.EventSource} names no Secret: the Deployment reads key '{PgSourceKube.ConnectionSecretKey}' of Secret '{SourceObjects.SecretName(source)}', which must exist (or be exported with the manifest).");
                }
                perSource.Add(resource);
                if (SourceObjects.ServiceAccount(source) is { } serviceAccount)
                {
                    perSource.Add(JsonTree.ToJson(serviceAccount));
                }
                perSource.Add(JsonTree.ToJson(SourceObjects.RoleBinding(source)));
                perSource.Add(JsonTree.ToJson(SourceObjects.Deployment(source, sink, options.Image, deadLetter)));
                documents.AddRange(perSource);
            }
            catch (Exception ex) when (ex is SourceValidationException or SinkResolutionException or ConnectionStringException)
            {
                errors.Add((source.EventSource, ex));
            }
        }
        return new Result(documents, warnings, errors);
    }

    /// <summary>The header for exported YAML: what made it and how the names were chosen.</summary>
    public static IReadOnlyList<string> Header(IReadOnlyList<SourceDefinition> sources, bool controller = false)
    {
        var header = new List<string>
        {
            $"Generated by Export-PgSourceManifest (PostgresSource {PgSourceKube.ProductVersion}). Apply with: kubectl apply -f <this file>",
        };
        if (controller)
        {
            header.Add($"The controller: namespace {PgSourceKube.ControllerNamespace}, the CRD, least-privilege RBAC and a {ControllerManifests.Replicas}-replica Deployment");
            header.Add("(one leader at a time). See docs/controller-install.md.");
        }
        if (sources.Any(s => s.Uid is null))
        {
            header.Add("Sources without a UID (never in a cluster): objects are named postgressource-<name> and have no owner references;");
            header.Add("delete them with the PostgresSource, or let a cluster sync that prunes replace them with UID-named, owned ones.");
        }
        return header;
    }

    private static string? SecretConnectionString(SourceDefinition source, ExportOptions options)
    {
        if (!options.IncludeSecret && options.SecretConnectionString is null && options.SecretCredential is null)
        {
            return null;
        }
        if (options.SecretCredential is null)
        {
            if (options.SecretConnectionString is not null)
            {
                ConnectionSettings.Parse(options.SecretConnectionString); // fail early on nonsense, without echoing it
                return options.SecretConnectionString;
            }
            return source.Connection?.ToNpgsqlConnectionString()
                ?? throw new ConnectionStringException($"{source.EventSource} has no connection to put into its Secret: none was given for the Secret, and the source has none.")
                {
                    Remedy = Remedy.GiveSecretConnection,
                };
        }

        var settings = options.SecretConnectionString is not null ? ConnectionSettings.Parse(options.SecretConnectionString) : source.Connection
            ?? throw new ConnectionStringException($"{source.EventSource} has no server to combine with the Secret's credential: no connection (host, port, database) was given for the Secret, and the source has none.")
            {
                Remedy = Remedy.GiveSecretServer,
            };
        var builder = settings.ToBuilder();
        builder.Username = options.SecretCredential.Value.User;
        builder.Password = options.SecretCredential.Value.Password;
        return builder.ConnectionString;
    }
}
