namespace PostgresSource.Core.Events;

/// <summary>The CloudEvents extension attributes this product sets (lowercase letters and digits only, at most 20 characters).</summary>
internal static class EventAttributes
{
    public const string Table = "pgtable";
    public const string Schema = "pgschema";
    public const string Operation = "pgoperation";
    public const string TransactionId = "pgtxid";
    public const string Lsn = "pglsn";
    public const string Truncated = "pgtruncated";

    /// <summary>On a fallback event only (<see cref="ChangeEventFactory.CreateFallback"/>): why the change's normal event could not be built.</summary>
    public const string Error = "pgerror";

    /// <summary>Knative's dead-letter extensions: where delivery failed, the last status code, and the response body.</summary>
    public const string ErrorDestination = "knativeerrordest";
    public const string ErrorCode = "knativeerrorcode";
    public const string ErrorData = "knativeerrordata";

    public const string JsonContentType = "application/json";

    /// <summary>Context attributes of CloudEvents 1.0 that an override may not replace.</summary>
    public static readonly IReadOnlySet<string> Reserved = new HashSet<string>(StringComparer.Ordinal)
    {
        "specversion", "id", "source", "type", "datacontenttype", "dataschema", "subject", "time", "data", "data_base64",
    };

    /// <summary>True for a name the CloudEvents spec allows for an extension: [a-z0-9]{1,20} and not a context attribute.</summary>
    public static bool IsValidExtensionName(string name) =>
        name.Length is > 0 and <= 20 && name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9')) && !Reserved.Contains(name);
}
