using System.Collections;
using System.Collections.Specialized;
using PostgresSource.Core.Sources;

namespace PostgresSource.PowerShell;

/// <summary>
/// A PostgresSource as it flows through the pipeline. The connection is shown masked; the real
/// connection string is kept out of every public property, so it never reaches output or Export-Clixml.
/// </summary>
public sealed class PgSource
{
    internal PgSource(SourceDefinition definition)
    {
        Definition = definition;
    }

    internal SourceDefinition Definition { get; }

    public string Name => Definition.Name;
    public string Namespace => Definition.Namespace;
    public string? Uid => Definition.Uid;
    public string[] Tables => Definition.Tables.Select(t => t.ToString()).ToArray();

    /// <summary>The filters of the tables that have one (spec.tables[] filter fields).</summary>
    public PgSourceTableFilter[] TableFilters => [.. Definition.Tables.Select(Definition.FilterFor).OfType<TableFilter>().Select(f => PgSourceTableFilter.From(f)!)];
    public PgSourceMode Mode => Infrastructure.CoreEnumMap.ToPowerShell(Definition.Mode);
    public string? Sink => Definition.Sink?.ToString();
    public string EventType => Definition.EventType;
    public string? SecretName => Definition.SecretName;
    public Hashtable CeOverrides => new(Definition.CeOverrideExtensions.ToDictionary(p => (object)p.Key, p => (object?)p.Value));

    /// <summary>
    /// The delivery choices that are set (spec.delivery), keyed as New-PgSource's parameters: OnUndeliverable, Ordering,
    /// MaxInFlight, Retry, RetryTime, DeadLetterSink. Empty when the adapter's defaults apply.
    /// </summary>
    public OrderedDictionary Delivery
    {
        get
        {
            var view = new OrderedDictionary(StringComparer.OrdinalIgnoreCase);
            if (Definition.Delivery is not { } delivery)
            {
                return view;
            }
            if (delivery.OnUndeliverable is { } action) view["OnUndeliverable"] = action.ToString();
            if (delivery.Ordering is { } order) view["Ordering"] = order.ToString();
            if (delivery.MaxInFlight is { } inFlight) view["MaxInFlight"] = inFlight;
            if (delivery.Retry is { } retry) view["Retry"] = retry;
            if (delivery.RetryTime is { } time) view["RetryTime"] = time;
            if (delivery.DeadLetterSink is { } sink) view["DeadLetterSink"] = sink.ToString();
            return view;
        }
    }

    /// <summary>
    /// Where the source lives: shown as host, port, database and user with the password masked; null when the
    /// environment will supply it. Piped on, it binds to -ConnectionString, so the next cmdlet acts there.
    /// </summary>
    public PgSourceConnection? Connection => PgSourceConnection.From(Definition.Connection);

    /// <summary>The server of <see cref="Connection"/>.</summary>
    public string? Host => Definition.Connection?.Host;

    /// <summary>The database of <see cref="Connection"/>.</summary>
    public string? Database => Definition.Connection?.Database;

    /// <summary>The name of the function, the triggers and the NOTIFY channel in the database.</summary>
    public string ObjectName => Definition.DatabaseObjectName;

    public override string ToString() => Definition.EventSource;
}
