using System.Collections;
using System.Globalization;
using System.Management.Automation;
using System.Text.Json;
using PostgresSource.Core.Events;

namespace PostgresSource.PowerShell;

/// <summary>
/// One CloudEvent as Start-PgSourceListener writes it to the pipeline when there is no sink. Data is
/// the changed row as a PowerShell object (so <c>$event.Data.qty</c> works); DataJson is the event's
/// data (the seed payload {"table","schema","action","data"}) as sent.
/// </summary>
public sealed class PgSourceEvent
{
    internal PgSourceEvent(EventRecord record)
    {
        Id = record.Id;
        Type = record.Type;
        Source = record.Source;
        Subject = record.Subject;
        Time = record.Time;
        DataContentType = record.DataContentType;
        DataJson = record.DataJson;
        Table = record.Table;
        Schema = record.Schema;
        Operation = record.Operation;
        TransactionId = record.TransactionId;
        Lsn = record.Lsn;
        Truncated = record.Truncated;
        var extensions = new Hashtable(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in record.Extensions)
        {
            extensions[name] = value;
        }
        Extensions = extensions;
        if (!string.IsNullOrEmpty(record.DataJson))
        {
            using var document = JsonDocument.Parse(record.DataJson);
            var root = document.RootElement;
            Data = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("data", out var row) ? ToPowerShell(row) : null;
        }
    }

    public string Id { get; }
    public string Type { get; }
    public string Source { get; }
    public string? Subject { get; }
    public DateTimeOffset? Time { get; }
    public string? Table { get; }
    public string? Schema { get; }

    /// <summary>INSERT, UPDATE, DELETE (the payload's action).</summary>
    public string? Operation { get; }

    /// <summary>The row: the new row for INSERT and UPDATE, the old one for DELETE; only the key when Truncated.</summary>
    public object? Data { get; }

    /// <summary>The row was too big for a NOTIFY payload: Data holds only its primary key.</summary>
    public bool Truncated { get; }

    public string? TransactionId { get; }
    public string? Lsn { get; }
    public string? DataContentType { get; }

    /// <summary>The event's data exactly as a sink would receive it.</summary>
    public string? DataJson { get; }

    /// <summary>Every CloudEvents extension attribute (pgtable, pgschema, pgoperation, ceOverrides, ...).</summary>
    public Hashtable Extensions { get; }

    public override string ToString() => $"{Operation} {Subject} {Id}";

    /// <summary>JSON to PowerShell: objects become PSCustomObjects, arrays object[], numbers int/long/decimal/double.</summary>
    internal static object? ToPowerShell(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => ToObject(element),
        JsonValueKind.Array => element.EnumerateArray().Select(ToPowerShell).ToArray(),
        JsonValueKind.String => element.GetString(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.Number => ToNumber(element),
        _ => null,
    };

    private static PSObject ToObject(JsonElement element)
    {
        var result = new PSObject();
        foreach (var property in element.EnumerateObject())
        {
            result.Properties.Add(new PSNoteProperty(property.Name, ToPowerShell(property.Value)));
        }
        return result;
    }

    private static object ToNumber(JsonElement element)
    {
        if (element.TryGetInt32(out var i)) return i;
        if (element.TryGetInt64(out var l)) return l;
        var raw = element.GetRawText();
        if (!raw.Contains('e', StringComparison.OrdinalIgnoreCase) && decimal.TryParse(raw, NumberStyles.Number, CultureInfo.InvariantCulture, out var d)) return d;
        return element.GetDouble();
    }
}
