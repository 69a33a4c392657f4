using System.Text.Json;
using System.Text.Json.Serialization;
using PostgresSource.Core.Listening;

namespace PostgresSource.Core.Hosting;

/// <summary>
/// What a running adapter says about itself on GET /state (JSON): the contract between the adapter, which writes
/// it, and the controller, which copies it into the PostgresSource's status. Only fields that change when something
/// happens (no counters), so a status built from it is rewritten only when the adapter's situation changes.
/// </summary>
internal sealed record AdapterState
{
    public const string Path = "/state";

    /// <summary>Connected to the database and capturing (what /readyz answers).</summary>
    public bool Connected { get; init; }

    public string Mode { get; init; } = string.Empty;

    /// <summary>up, down (retrying; the stream held back), refusing, or unknown before the first delivery.</summary>
    public string Sink { get; init; } = "unknown";

    /// <summary>Durable: journal rows not yet delivered.</summary>
    public long? BacklogRows { get; init; }

    /// <summary>Logical: bytes of WAL the slot has not confirmed.</summary>
    public long? SlotLagBytes { get; init; }

    public string? LastDeliveryError { get; init; }

    public DateTimeOffset? LastDeliveryErrorTime { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static AdapterState From(bool connected, string mode, ListenerStatistics? statistics, Backlog? backlog) => new()
    {
        Connected = connected,
        Mode = mode,
        Sink = (statistics?.SinkState ?? SinkState.Unknown).ToString().ToLowerInvariant(),
        BacklogRows = backlog?.JournalRows,
        SlotLagBytes = backlog?.SlotLagBytes,
        LastDeliveryError = statistics?.LastError,
        LastDeliveryErrorTime = statistics?.LastErrorTime,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>The state an adapter sent; null when the text is not one.</summary>
    public static AdapterState? Parse(string text)
    {
        try
        {
            return JsonSerializer.Deserialize<AdapterState>(text, Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
