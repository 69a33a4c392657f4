using System.Text.RegularExpressions;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Events;
using PostgresSource.Core.Naming;

namespace PostgresSource.Core.Sources;

/// <summary>
/// Everything that defines one PostgresSource, whether it came from New-PgSource, a seed YAML file,
/// or adapter environment variables. Immutable; validated on creation.
/// </summary>
internal sealed partial record SourceDefinition
{
    public const string DefaultEventType = "dev.vaikas.postgres";
    public const string DefaultNamespace = "default";

    public required string Name { get; init; }
    public string Namespace { get; init; } = DefaultNamespace;
    /// <summary>
    /// The Kubernetes UID, kept in its canonical form (<see cref="SourceUid"/>) whatever spelling was given; a value
    /// that is no UID is kept as given so that <see cref="ValidateIdentity"/> can name it.
    /// </summary>
    public string? Uid
    {
        get => _uid;
        init => _uid = value is not null && SourceUid.TryNormalize(value, out var normal) ? normal : value;
    }

    private readonly string? _uid;
    public required IReadOnlyList<TableName> Tables { get; init; }

    /// <summary>What each filtered table sends (spec.tables[] beyond the name); a table without one sends everything.</summary>
    public IReadOnlyList<TableFilter> Filters { get; init; } = [];

    /// <summary>The filter of a table the source names, or null when it sends everything.</summary>
    public TableFilter? FilterFor(TableName table) => Filters.FirstOrDefault(f => f.Table == table && !f.IsEmpty);
    public CaptureMode Mode { get; init; } = CaptureMode.Notify;
    public SinkReference? Sink { get; init; }
    public string EventType { get; init; } = DefaultEventType;
    public string? SecretName { get; init; }
    public string? ServiceAccountName { get; init; }

    /// <summary>spec.database.caCertSecret: the Secret key holding the database server's root certificate; null: none.</summary>
    public SecretKeyReference? DatabaseCaCert { get; init; }
    public IReadOnlyDictionary<string, string> CeOverrideExtensions { get; init; } = new Dictionary<string, string>();
    public long? Generation { get; init; }

    /// <summary>The delivery choices (spec.delivery); null: the adapter's defaults, and nothing is written.</summary>
    public SourceDelivery? Delivery { get; init; }

    /// <summary>The connection (never printed as is: use <see cref="ConnectionSettings.ToDisplayString"/>).</summary>
    public ConnectionSettings? Connection { get; init; }

    /// <summary>The name shared by the function, the triggers and the NOTIFY channel.</summary>
    public string DatabaseObjectName => SourceObjectNames.DatabaseName(Name, Uid);

    /// <summary>The seed's EVENT_SOURCE: namespace/name.</summary>
    public string EventSource => $"{Namespace}/{Name}";

    /// <summary>Throws <see cref="SourceValidationException"/> naming the first bad field.</summary>
    public SourceDefinition Validate()
    {
        ValidateIdentity();
        if (Tables.Count == 0)
        {
            throw new SourceValidationException("tables", "A source needs at least one table.");
        }
        ValidateFilters();
        return ValidateEventAttributes();
    }

    /// <summary>
    /// Checks what goes into every event as configured: the event type (not empty, no control characters or
    /// other characters CloudEvents forbids) and the ceOverrides (valid extension names, values CloudEvents
    /// allows). Part of <see cref="Validate"/>; on its own for a source whose tables are not needed.
    /// </summary>
    public SourceDefinition ValidateEventAttributes()
    {
        if (ChangeEventFactory.EventTypeProblem(EventType) is { } typeProblem)
        {
            throw new SourceValidationException("eventType", $"The event type is not usable: {typeProblem}.");
        }
        foreach (var (key, value) in CeOverrideExtensions)
        {
            if (!ExtensionName().IsMatch(key))
            {
                throw new SourceValidationException("ceOverrides.extensions",
                    $"'{key}' is not a valid CloudEvents extension name (lowercase letters and digits, at most 20 characters).");
            }
            if (CeOverrides.ValueProblem(value) is { } valueProblem)
            {
                throw new SourceValidationException("ceOverrides.extensions",
                    $"The value of extension '{key}' is not allowed in a CloudEvent: {valueProblem}.");
            }
        }
        Delivery?.Validate();
        return this;
    }

    /// <summary>Each filter names one of the source's tables, at most one per table, and is usable itself.</summary>
    private void ValidateFilters()
    {
        foreach (var filter in Filters)
        {
            var index = Tables.ToList().IndexOf(filter.Table);
            if (index < 0)
            {
                throw new SourceValidationException("tables", $"A filter names table '{filter.Table}', which the source does not capture.");
            }
            if (Filters.Count(f => f.Table == filter.Table) > 1)
            {
                throw new SourceValidationException($"tables[{index}]", $"Table '{filter.Table}' has more than one filter: give it one.");
            }
            filter.Validate($"tables[{index}]");
        }
    }

    /// <summary>Checks only what names the source's objects: name, namespace and UID.</summary>
    public SourceDefinition ValidateIdentity()
    {
        if (string.IsNullOrEmpty(Name) || Name.Length > 253 || !KubernetesName().IsMatch(Name))
        {
            throw new SourceValidationException("name",
                $"'{Name}' is not a valid source name: use lowercase letters, digits and '-', starting and ending with a letter or digit (at most 253 characters).");
        }
        if (!IsNamespaceName(Namespace))
        {
            throw new SourceValidationException("namespace", $"'{Namespace}' is not a valid Kubernetes namespace name.");
        }
        SourceUid.NormalizeOptional(Uid);
        return this;
    }

    /// <summary>A DNS label, as Kubernetes namespace names are.</summary>
    public static bool IsNamespaceName(string? value) => !string.IsNullOrEmpty(value) && value.Length <= 63 && KubernetesName().IsMatch(value);

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex KubernetesName();

    [GeneratedRegex("^[a-z0-9]{1,20}$")]
    private static partial Regex ExtensionName();
}

/// <summary>A source definition that cannot be used; <see cref="Field"/> names what is wrong.</summary>
internal sealed class SourceValidationException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;
}

/// <summary>A key of a Secret in the source's namespace (spec.database.caCertSecret: name, and key defaulting to ca.crt).</summary>
internal sealed record SecretKeyReference(string Name, string Key = SecretKeyReference.DefaultCaKey)
{
    public const string DefaultCaKey = "ca.crt";
}
