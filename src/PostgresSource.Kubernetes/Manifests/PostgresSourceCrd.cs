using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using PostgresSource.Kubernetes;

namespace PostgresSource.Kubernetes.Manifests;

/// <summary>
/// The CustomResourceDefinition for postgressources.sources.vaikas.dev in apiextensions.k8s.io/v1 (the seed's
/// v1beta1 CRD no longer installs): v1alpha1 served and stored, a structural schema covering every spec and
/// status field (the seed's plus mode, eventType and delivery), the status subresource, Knative source categories,
/// printer columns, the Knative source label and the event-type registry annotation.
/// </summary>
internal static class PostgresSourceCrd
{
    public static V1CustomResourceDefinition Build() => new()
    {
        ApiVersion = "apiextensions.k8s.io/v1",
        Kind = "CustomResourceDefinition",
        Metadata = new V1ObjectMeta
        {
            Name = PgSourceKube.CrdName,
            Labels = new Dictionary<string, string>
            {
                [PgSourceKube.KnativeSourceLabel] = "true",
                ["duck.knative.dev/source"] = "true",
                [PgSourceKube.ManagedByLabel] = PgSourceKube.ManagedByValue,
                [PgSourceKube.PartOfLabel] = "postgressource",
            },
            Annotations = new Dictionary<string, string>
            {
                [PgSourceKube.EventTypesAnnotation] = EventTypesAnnotationValue(),
            },
        },
        Spec = new V1CustomResourceDefinitionSpec
        {
            Group = PgSourceKube.Group,
            Scope = "Namespaced",
            Names = new V1CustomResourceDefinitionNames
            {
                Kind = PgSourceKube.Kind,
                ListKind = PgSourceKube.Kind + "List",
                Plural = PgSourceKube.Plural,
                Singular = PgSourceKube.Singular,
                Categories = ["all", "knative", "eventing", "sources"],
            },
            Versions =
            [
                new V1CustomResourceDefinitionVersion
                {
                    Name = PgSourceKube.Version,
                    Served = true,
                    Storage = true,
                    Subresources = new V1CustomResourceSubresources { Status = new Dictionary<string, object>() },
                    AdditionalPrinterColumns =
                    [
                        new V1CustomResourceColumnDefinition { Name = "Ready", Type = "string", JsonPath = ".status.conditions[?(@.type==\"Ready\")].status" },
                        new V1CustomResourceColumnDefinition { Name = "Reason", Type = "string", JsonPath = ".status.conditions[?(@.type==\"Ready\")].reason" },
                        new V1CustomResourceColumnDefinition { Name = "Sink", Type = "string", JsonPath = ".status.sinkUri" },
                        new V1CustomResourceColumnDefinition { Name = "Age", Type = "date", JsonPath = ".metadata.creationTimestamp" },
                    ],
                    Schema = new V1CustomResourceValidation { OpenAPIV3Schema = RootSchema() },
                },
            ],
        },
    };

    /// <summary>The CRD's openAPIV3Schema as JSON, for validating resources before they are sent.</summary>
    public static JsonObject SchemaJson() =>
        JsonNode.Parse(KubernetesJson.Serialize(RootSchema()))!.AsObject();

    /// <summary>The Knative event-type registry annotation: the one type this source emits by default.</summary>
    public static string EventTypesAnnotationValue() =>
        JsonSerializer.Serialize(new[]
        {
            new Dictionary<string, string>
            {
                ["type"] = PgSourceKube.DefaultEventType,
                ["description"] = "A row was inserted, updated or deleted in a watched PostgreSQL table.",
            },
        });

    private static V1JSONSchemaProps RootSchema() => Object(
        "A PostgresSource turns row changes in PostgreSQL tables into CloudEvents sent to a sink.",
        new()
        {
            ["apiVersion"] = String(null),
            ["kind"] = String(null),
            ["metadata"] = new V1JSONSchemaProps { Type = "object" },
            ["spec"] = Spec(),
            ["status"] = Status(),
        });

    private static V1JSONSchemaProps Spec() => Object(
        "What to watch, where the connection string is, and where to send events.",
        new()
        {
            ["tables"] = new V1JSONSchemaProps
            {
                Type = "array",
                Description = "The tables to watch: table, schema.table, or quoted identifiers.",
                MinItems = 1,
                Items = TableEntry(),
            },
            ["secret"] = Object(
                "The Secret whose key 'connectionstr' holds the PostgreSQL connection string.",
                new() { ["name"] = MinLength(String("The Secret's name, in the source's namespace."), 1) },
                required: ["name"]),
            ["sink"] = Sink(),
            ["ceOverrides"] = Object(
                "Overrides for the outbound CloudEvents (Knative CloudEventOverrides).",
                new()
                {
                    ["extensions"] = new V1JSONSchemaProps
                    {
                        Type = "object",
                        Description = "Extension attributes added to every event.",
                        AdditionalProperties = String(null),
                    },
                }),
            ["serviceAccountName"] = String("Run the adapter as this ServiceAccount instead of a dedicated one."),
            ["database"] = Object(
                "Database connection settings beyond the connection string.",
                new()
                {
                    ["caCertSecret"] = Object(
                        "A Secret holding the database server's root certificate (PEM): the adapter connects with sslmode verify-full against it.",
                        new()
                        {
                            ["name"] = MinLength(String("The Secret's name, in the source's namespace."), 1),
                            ["key"] = MinLength(String("The key holding the certificate; default ca.crt."), 1),
                        },
                        required: ["name"]),
                }),
            ["mode"] = new V1JSONSchemaProps
            {
                Type = "string",
                Description = "How changes are captured: Notify (default, at most once), Durable (journal, at least once) or Logical (logical replication).",
                EnumProperty = ["Notify", "Durable", "Logical"],
            },
            ["eventType"] = String("The CloudEvents type; default dev.vaikas.postgres."),
            ["delivery"] = Delivery(),
        },
        required: ["tables", "secret", "sink"]);

    /// <summary>spec.tables[]: the seed's name, and the optional filter fields (see docs/capture-modes.md, Table filters).</summary>
    private static V1JSONSchemaProps TableEntry() => Object(null, new()
    {
        ["name"] = MinLength(String("The table name as written in SQL (schema.table allowed)."), 1),
        ["operations"] = new V1JSONSchemaProps
        {
            Type = "array",
            Description = "The operations sent (default: all).",
            MinItems = 1,
            Items = new V1JSONSchemaProps { Type = "string", EnumProperty = ["insert", "update", "delete", "truncate"] },
        },
        ["columns"] = Strings("Only these columns are sent (not with excludeColumns)."),
        ["excludeColumns"] = Strings("These columns are never sent (not with columns)."),
        ["maskColumns"] = Strings("These columns are sent masked (see mask)."),
        ["mask"] = new V1JSONSchemaProps
        {
            Type = "string",
            Description = "How masked columns are sent: placeholder (default, \"****\") or hash (SHA-256 of the value's text, hex).",
            EnumProperty = ["placeholder", "hash"],
        },
        ["where"] = MinLength(String("Only rows for which this SQL condition on the table's columns is true are sent; an UPDATE into it is sent as an INSERT, out of it as a DELETE."), 1),
    }, required: ["name"]);

    private static V1JSONSchemaProps Strings(string description) =>
        new() { Type = "array", Description = description, Items = new V1JSONSchemaProps { Type = "string", MinLength = 1 } };

    private static V1JSONSchemaProps Delivery() => Object(
        "How events are delivered; every field is optional and defaults to the adapter's behaviour.",
        new()
        {
            ["onUndeliverable"] = new V1JSONSchemaProps
            {
                Type = "string",
                Description = "A change neither the sink nor the dead-letter sink takes: stop (default; it stays unacknowledged) or skip (reported and acknowledged).",
                EnumProperty = ["stop", "skip"],
            },
            ["ordering"] = new V1JSONSchemaProps
            {
                Type = "string",
                Description = "The order events reach the sink in: commit (default, one in flight; unordered when only maxInFlight above 1 is given), key (per row, by primary key) or unordered.",
                EnumProperty = ["commit", "key", "unordered"],
            },
            ["maxInFlight"] = new V1JSONSchemaProps
            {
                Type = "integer",
                Format = "int32",
                Description = "Deliveries in flight at once (default 1; 4 with key or unordered). Commit order allows 1.",
                Minimum = 1,
                Maximum = 1000,
            },
            ["retry"] = new V1JSONSchemaProps
            {
                Type = "integer",
                Format = "int32",
                Description = "Retries of a failed delivery before the change goes to the dead-letter sink (or onUndeliverable), as Knative's delivery.retry; 0: none. Default: no limit.",
                Minimum = 0,
            },
            ["retryTime"] = String("How long one change may be retried, from its first attempt, as an ISO 8601 duration (PT10M). Default: no limit."),
            ["deadLetterSink"] = Sink("Where a change goes that the sink refuses for good or that reached the retry limit (a Knative Destination)."),
        });

    private static V1JSONSchemaProps Sink(string description = "Where events go: a reference to an Addressable, a URI, or a reference plus a relative URI.") => Object(
        description,
        new()
        {
            ["ref"] = Object(
                "An Addressable (Broker, Channel, Knative Service, Kubernetes Service, ...).",
                new()
                {
                    ["apiVersion"] = String(null),
                    ["kind"] = String(null),
                    ["name"] = String(null),
                    ["namespace"] = String("Defaults to the source's namespace."),
                },
                required: ["apiVersion", "kind", "name"]),
            ["uri"] = String("An absolute URI, or one relative to the reference's address."),
            ["CACerts"] = String("PEM CA certificates for the sink."),
            ["audience"] = String("The OIDC audience of the sink."),
        });

    private static V1JSONSchemaProps Status() => Object(
        "The state the controller (or Sync-PgSourceCluster) last observed.",
        new()
        {
            ["observedGeneration"] = new V1JSONSchemaProps { Type = "integer", Format = "int64" },
            ["conditions"] = new V1JSONSchemaProps
            {
                Type = "array",
                XKubernetesListType = "map",
                XKubernetesListMapKeys = ["type"],
                Items = Object(null, new()
                {
                    ["type"] = String(null),
                    ["status"] = new V1JSONSchemaProps { Type = "string", EnumProperty = ["True", "False", "Unknown"] },
                    ["severity"] = String(null),
                    ["reason"] = String(null),
                    ["message"] = String(null),
                    ["lastTransitionTime"] = String(null),
                }, required: ["type", "status"]),
            },
            ["annotations"] = new V1JSONSchemaProps { Type = "object", AdditionalProperties = String(null) },
            ["sinkUri"] = String(null),
            ["deadLetterSinkUri"] = String("spec.delivery.deadLetterSink resolved."),
            ["sinkCACerts"] = String("The sink's PEM CA certificates (spec.sink.CACerts, else the Addressable's status.address.CACerts); passed to the adapter as K_CA_CERTS."),
            ["sinkAudience"] = String("The sink's OIDC audience (spec.sink.audience, else the Addressable's status.address.audience); the adapter sends a token for it."),
            ["deadLetterSinkCACerts"] = String("The dead-letter sink's PEM CA certificates."),
            ["deadLetterSinkAudience"] = String("The dead-letter sink's OIDC audience."),
            ["ceAttributes"] = new V1JSONSchemaProps
            {
                Type = "array",
                Items = Object(null, new() { ["type"] = String(null), ["source"] = String(null) }),
            },
            ["adapter"] = Object("What the running adapter last reported to the controller (GET /state).", new()
            {
                ["connected"] = new V1JSONSchemaProps { Type = "boolean", Description = "Connected to the database and capturing." },
                ["mode"] = String(null),
                ["sink"] = new V1JSONSchemaProps { Type = "string", EnumProperty = ["unknown", "up", "down", "refusing"] },
                ["backlogRows"] = new V1JSONSchemaProps { Type = "integer", Format = "int64", Description = "Durable: journal rows not yet delivered." },
                ["slotLagBytes"] = new V1JSONSchemaProps { Type = "integer", Format = "int64", Description = "Logical: WAL bytes the slot has not confirmed." },
                ["lastDeliveryError"] = String(null),
                ["lastDeliveryErrorTime"] = String(null),
            }),
            ["tableStatuses"] = new V1JSONSchemaProps
            {
                Type = "array",
                Description = "Per-table state reported by the adapter.",
                Items = new V1JSONSchemaProps
                {
                    Type = "object",
                    XKubernetesPreserveUnknownFields = true,
                    Properties = new Dictionary<string, V1JSONSchemaProps> { ["name"] = String(null) },
                },
            },
        });

    private static V1JSONSchemaProps Object(string? description, Dictionary<string, V1JSONSchemaProps> properties, IList<string>? required = null) =>
        new() { Type = "object", Description = description, Properties = properties, Required = required };

    private static V1JSONSchemaProps String(string? description) => new() { Type = "string", Description = description };

    private static V1JSONSchemaProps MinLength(V1JSONSchemaProps schema, long length)
    {
        schema.MinLength = length;
        return schema;
    }
}
