using System.Globalization;

namespace PostgresSource.Core.Capture.Reliability;

/// <summary>
/// The server session holding a source's single-active lock, as pg_locks and pg_stat_activity show it. Fields
/// other than the process id may be null: pg_stat_activity hides them from roles that may not see the session.
/// </summary>
/// <param name="ProcessId">The holder's server process id (pg_stat_activity.pid).</param>
/// <param name="ApplicationName">Its application_name (a listener's lock session ends in "(active lock)").</param>
/// <param name="ClientAddress">Its client_addr; null for a Unix-socket connection or when hidden.</param>
/// <param name="ClientHostName">Its client_hostname, when the server resolves host names.</param>
/// <param name="BackendStart">When its session started (backend_start).</param>
internal sealed record ActiveListenerInfo(int ProcessId, string? ApplicationName, string? ClientAddress, string? ClientHostName, DateTimeOffset? BackendStart)
{
    /// <summary>"application 'x', pid 1, client 10.0.0.5, connected since 2026-01-01T00:00:00Z", naming only what is known.</summary>
    public string Describe()
    {
        var parts = new List<string>();
        if (!string.IsNullOrEmpty(ApplicationName))
        {
            parts.Add($"application '{ApplicationName}'");
        }
        parts.Add($"pid {ProcessId.ToString(CultureInfo.InvariantCulture)}");
        if (!string.IsNullOrEmpty(ClientAddress) || !string.IsNullOrEmpty(ClientHostName))
        {
            parts.Add(string.IsNullOrEmpty(ClientHostName) ? $"client {ClientAddress}" : $"client {ClientHostName} ({ClientAddress})");
        }
        else if (BackendStart is not null)
        {
            parts.Add("a local (Unix-socket) connection");
        }
        if (BackendStart is { } start)
        {
            parts.Add($"connected since {start.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)}");
        }
        else
        {
            parts.Add("its other details hidden from this role (pg_read_all_stats shows them)");
        }
        return string.Join(", ", parts);
    }
}

/// <summary>
/// Another listener is the active one for the source (it holds the source's single-active lock), and this one
/// was asked not to wait as a standby (<see cref="CaptureOptions.FailWhenBusy"/>). Nothing was read.
/// </summary>
internal sealed class SourceBusyException(string message, string source, ActiveListenerInfo? holder) : Exception(message)
{
    /// <summary>The source's identity (namespace/name).</summary>
    public string EventSource { get; } = source;

    /// <summary>Who holds the lock; null when it was released while being looked up and taken again at once.</summary>
    public ActiveListenerInfo? Holder { get; } = holder;
}
