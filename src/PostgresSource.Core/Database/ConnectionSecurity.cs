using Npgsql;
using PostgresSource.Core.Connections;

namespace PostgresSource.Core.Database;

/// <summary>
/// Whether a connection proves the server's identity. Npgsql's default (SslMode Prefer) encrypts when it can but
/// accepts any certificate, so a server reached over a network could be anyone. The decision lives here; the
/// cmdlets and the adapter only report it.
/// </summary>
internal static class ConnectionSecurity
{
    /// <summary>The warning for a connection to a non-local host whose certificate is not verified; null when none is due.</summary>
    public static string? UnverifiedServerWarning(ConnectionSettings settings)
    {
        var builder = settings.ToBuilder();
        if (builder.SslMode is SslMode.VerifyCA or SslMode.VerifyFull)
        {
            return null;
        }
        var remote = (builder.Host ?? string.Empty)
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(h => !IsLocal(h))
            .ToList();
        if (remote.Count == 0)
        {
            return null;
        }
        return $"The database server {string.Join(", ", remote)} is reached with sslmode={SslModeText(builder.SslMode)}: " +
            "its identity is not verified, so another host could pose as it and read the connection's data. " +
            "Use sslmode=verify-full with the server's root certificate (sslrootcert=<file> in the connection string; " +
            "PGSOURCE_DB_ROOT_CERT for the adapter; spec.database.caCertSecret in the cluster).";
    }

    /// <summary>Loopback names and Unix socket paths: traffic that never leaves the machine.</summary>
    public static bool IsLocal(string host)
    {
        var name = host.Trim();
        // A host:port pair (Npgsql allows it in Host) is judged by its host.
        if (name.StartsWith('[') && name.IndexOf(']') is var close and > 0)
        {
            name = name[1..close];
        }
        else if (name.Count(c => c == ':') == 1)
        {
            name = name[..name.IndexOf(':')];
        }
        return name.Length == 0 || name.StartsWith('/') || name.StartsWith('@') ||
            name.Equals("localhost", StringComparison.OrdinalIgnoreCase) ||
            (System.Net.IPAddress.TryParse(name, out var address) && System.Net.IPAddress.IsLoopback(address));
    }

    private static string SslModeText(SslMode mode) => mode switch
    {
        SslMode.Disable => "disable",
        SslMode.Allow => "allow",
        SslMode.Prefer => "prefer",
        SslMode.Require => "require",
        _ => mode.ToString().ToLowerInvariant(),
    };
}
