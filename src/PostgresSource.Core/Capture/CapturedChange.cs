namespace PostgresSource.Core.Capture;

/// <summary>The kind of change, as the seed's payload names it in "action".</summary>
internal enum ChangeOperation
{
    Insert,
    Update,
    Delete,
    Truncate,
    /// <summary>A row emitted by an initial snapshot.</summary>
    Read,
}

/// <summary>
/// One row change as a capture mode saw it, before it becomes a CloudEvent. Every mode produces the
/// seed's payload ({"table","action","data"} plus optional fields) so receivers see one format. Immutable: a capture
/// that learns more about a change (its position) makes a copy with <c>with</c>.
/// </summary>
internal sealed record CapturedChange
{
    public required string Schema { get; init; }
    public required string Table { get; init; }
    public required ChangeOperation Operation { get; init; }

    /// <summary>The seed payload as JSON text: {"table": ..., "action": ..., "data": {...}, ...}.</summary>
    public required string PayloadJson { get; init; }

    /// <summary>A deterministic id (Durable, Logical): the same change delivered twice has the same id. Null: the event factory makes a unique one.</summary>
    public string? Id { get; init; }

    public string? TransactionId { get; init; }
    public string? Lsn { get; init; }
    public DateTimeOffset? CommitTime { get; init; }

    /// <summary>The row did not fit (Notify mode's 8000-byte limit): the payload carries only the key.</summary>
    public bool Truncated { get; init; }

    /// <summary>The mode's checkpoint for this change, handed back to <see cref="IChangeCapture.AcknowledgeAsync"/>.</summary>
    public CapturePosition? Position { get; init; }

    public static string ActionName(ChangeOperation operation) => operation switch
    {
        ChangeOperation.Insert => "INSERT",
        ChangeOperation.Update => "UPDATE",
        ChangeOperation.Delete => "DELETE",
        ChangeOperation.Truncate => "TRUNCATE",
        ChangeOperation.Read => "READ",
        _ => operation.ToString().ToUpperInvariant(),
    };

    public static ChangeOperation ParseAction(string action) => action.ToUpperInvariant() switch
    {
        "INSERT" => ChangeOperation.Insert,
        "UPDATE" => ChangeOperation.Update,
        "DELETE" => ChangeOperation.Delete,
        "TRUNCATE" => ChangeOperation.Truncate,
        "READ" => ChangeOperation.Read,
        _ => throw new FormatException($"'{action}' is not a change action."),
    };
}
