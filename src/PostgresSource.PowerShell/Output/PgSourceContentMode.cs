namespace PostgresSource.PowerShell;

/// <summary>How events are sent over HTTP (the CloudEvents HTTP binding).</summary>
public enum PgSourceContentMode
{
    /// <summary>Attributes in ce-* headers, the data as the body (the default, as Knative sends).</summary>
    Binary,
    /// <summary>The whole event as one application/cloudevents+json document.</summary>
    Structured,
}
