using System.Collections;
using System.Management.Automation;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Listening;
using PostgresSource.Core.Sources;
using PostgresSource.PowerShell.Completion;
using PostgresSource.PowerShell.Infrastructure;

namespace PostgresSource.PowerShell.Cmdlets;

/// <summary>Creates a source object (in memory only) to pipe into the other cmdlets.</summary>
[Cmdlet(VerbsCommon.New, "PgSource", HelpUri = HelpLinks.NewPgSource)]
[OutputType(typeof(PgSource))]
public sealed class NewPgSourceCommand : PgSourceCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = string.Empty;

    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [Alias("Tables")]
    [TableListTransformation]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TableNameCompleter))]
    public string[] Table { get; set; } = [];

    /// <summary>What filtered tables send: objects or hashtables (Table, Operation, Column, ExcludeColumn, MaskColumn, Mask, Where), one per table.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("TableFilters", "Filter")]
    public PgSourceTableFilter[]? TableFilter { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Namespace { get; set; } = SourceDefinition.DefaultNamespace;

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull]
    public string? Uid { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("Connection")]
    [EmptyAsNull]
    public PgSourceConnection? ConnectionString { get; set; }

    /// <summary>Joins the connection string's server and database (a SecureString alone keeps its user).</summary>
    [Parameter]
    [CredentialTransformation]
    public PSCredential? Credential { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull]
    public Uri? Sink { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string EventType { get; set; } = SourceDefinition.DefaultEventType;

    [Parameter(ValueFromPipelineByPropertyName = true)]
    public PgSourceMode Mode { get; set; } = PgSourceMode.Notify;

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("CeOverrides")]
    public Hashtable? CeOverride { get; set; }

    [Parameter(ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull]
    public string? SecretName { get; set; }

    /// <summary>spec.delivery.onUndeliverable: Stop or Skip a change neither the sink nor the dead-letter sink takes.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateSet("Stop", "Skip")]
    public string? OnUndeliverable { get; set; }

    /// <summary>spec.delivery.ordering: Commit, Key or Unordered.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateSet("Commit", "Key", "Unordered")]
    public string? Ordering { get; set; }

    /// <summary>spec.delivery.maxInFlight.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(1, SourceDelivery.MaxInFlightLimit)]
    public int? MaxInFlight { get; set; }

    /// <summary>spec.delivery.retry: retries after the first attempt, as Knative counts them.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ValidateRange(0, int.MaxValue - 1)]
    public int? Retry { get; set; }

    /// <summary>spec.delivery.retryTime.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull]
    public TimeSpan? RetryTime { get; set; }

    /// <summary>spec.delivery.deadLetterSink (a URI).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [EmptyAsNull]
    public Uri? DeadLetterSink { get; set; }

    protected override void ProcessRecord()
    {
        try
        {
            var delivery = new SourceDelivery
            {
                OnUndeliverable = OnUndeliverable is null ? null : Enum.Parse<UndeliverableAction>(OnUndeliverable, ignoreCase: true),
                Ordering = Ordering is null ? null : Enum.Parse<DeliveryOrder>(Ordering, ignoreCase: true),
                MaxInFlight = MaxInFlight,
                Retry = Retry,
                RetryTime = RetryTime,
                DeadLetterSink = DeadLetterSink is null ? null : SinkReference.FromUri(DeadLetterSink),
            };
            if (Sink is not null && !Sink.IsAbsoluteUri)
            {
                throw new SourceValidationException("sink", $"The sink '{Sink}' is not an absolute URI (for example http://broker-ingress.knative-eventing.svc.cluster.local/default/default).");
            }
            var definition = new SourceDefinition
            {
                Name = Name,
                Namespace = Namespace,
                Uid = string.IsNullOrWhiteSpace(Uid) ? null : Uid,
                Tables = Table.Select(TableName.Parse).ToList(),
                Filters = [.. (TableFilter ?? []).Select((f, i) => f.ToCore($"TableFilter[{i}]"))],
                Mode = CoreEnumMap.ToCore(Mode),
                Sink = Sink is null ? null : SinkReference.FromUri(Sink),
                EventType = EventType,
                SecretName = SecretName,
                CeOverrideExtensions = CeOverride?.Cast<DictionaryEntry>()
                    .ToDictionary(e => e.Key.ToString() ?? string.Empty, e => e.Value?.ToString() ?? string.Empty)
                    ?? new Dictionary<string, string>(),
                Connection = ConnectionString is { IsEmpty: false } given
                    ? WithCredential(given.Settings, Credential)
                    : Credential is null ? null : WithCredential(ConnectionResolver.Require(null), Credential),
                Delivery = delivery.IsEmpty ? null : delivery,
            }.Validate();
            WriteObject(new PgSource(definition));
        }
        catch (Exception ex) when (ex is SourceValidationException or ConnectionStringException or ArgumentException)
        {
            WriteFailure(ex, Name);
        }
    }
}
