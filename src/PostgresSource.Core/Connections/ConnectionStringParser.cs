using System.Text;
using Npgsql;

namespace PostgresSource.Core.Connections;

/// <summary>Turns the connection-string dialects PostgreSQL users write into an Npgsql builder.</summary>
internal static class ConnectionStringParser
{
    // libpq keyword -> Npgsql keyword, for the keywords people actually use.
    private static readonly Dictionary<string, string> LibpqKeywords = new(StringComparer.OrdinalIgnoreCase)
    {
        ["host"] = "Host",
        ["hostaddr"] = "Host",
        ["port"] = "Port",
        ["dbname"] = "Database",
        ["user"] = "Username",
        ["password"] = "Password",
        ["sslmode"] = "SSL Mode",
        ["sslrootcert"] = "Root Certificate",
        ["sslcert"] = "SSL Certificate",
        ["sslkey"] = "SSL Key",
        ["application_name"] = "Application Name",
        ["connect_timeout"] = "Timeout",
        ["options"] = "Options",
        ["target_session_attrs"] = "Target Session Attributes",
        ["passfile"] = "Passfile",
        ["keepalives_idle"] = "Tcp Keepalive Time",
    };

    public static NpgsqlConnectionStringBuilder ToBuilder(string text)
    {
        text = text.Trim();
        try
        {
            if (text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) ||
                text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
            {
                return FromUri(text);
            }
            if (!text.Contains(';') && text.Contains('=') && LooksLikeLibpq(text))
            {
                return FromLibpq(text);
            }
            return new NpgsqlConnectionStringBuilder(text);
        }
        catch (ConnectionStringException)
        {
            throw;
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or UriFormatException or KeyNotFoundException)
        {
            // The inner message may quote the input (and so the password): do not pass it on.
            throw new ConnectionStringException(
                "The connection string is not valid: use postgres://user:password@host:port/database, " +
                "libpq 'host=... dbname=... user=...', or Npgsql 'Host=...;Database=...;Username=...'.");
        }
    }

    private static bool LooksLikeLibpq(string text)
    {
        foreach (var (key, _) in SplitLibpq(text))
        {
            if (!LibpqKeywords.ContainsKey(key))
            {
                return false;
            }
        }
        return true;
    }

    private static NpgsqlConnectionStringBuilder FromLibpq(string text)
    {
        var builder = new NpgsqlConnectionStringBuilder();
        foreach (var (key, value) in SplitLibpq(text))
        {
            Apply(builder, key, value);
        }
        return builder;
    }

    /// <summary>key=value pairs separated by spaces; values may be single-quoted with \' and \\ escapes.</summary>
    private static IEnumerable<(string Key, string Value)> SplitLibpq(string text)
    {
        var i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
            if (i >= text.Length) yield break;
            var eq = text.IndexOf('=', i);
            if (eq < 0) throw new ConnectionStringException("The connection string has a keyword without '='.");
            var key = text[i..eq].Trim();
            i = eq + 1;
            while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
            var value = new StringBuilder();
            if (i < text.Length && text[i] == '\'')
            {
                i++;
                while (i < text.Length && text[i] != '\'')
                {
                    if (text[i] == '\\' && i + 1 < text.Length) i++;
                    value.Append(text[i++]);
                }
                if (i >= text.Length) throw new ConnectionStringException("The connection string has an unterminated quoted value.");
                i++;
            }
            else
            {
                while (i < text.Length && !char.IsWhiteSpace(text[i]))
                {
                    if (text[i] == '\\' && i + 1 < text.Length) i++;
                    value.Append(text[i++]);
                }
            }
            yield return (key, value.ToString());
        }
    }

    private static NpgsqlConnectionStringBuilder FromUri(string text)
    {
        var uri = new Uri(text);
        var builder = new NpgsqlConnectionStringBuilder();
        if (!string.IsNullOrEmpty(uri.Host))
        {
            builder.Host = Uri.UnescapeDataString(uri.Host.Trim('[', ']'));
        }
        if (!uri.IsDefaultPort && uri.Port > 0)
        {
            builder.Port = uri.Port;
        }
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            var colon = uri.UserInfo.IndexOf(':');
            builder.Username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            if (colon >= 0)
            {
                builder.Password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            }
        }
        var database = uri.AbsolutePath.TrimStart('/');
        if (!string.IsNullOrEmpty(database))
        {
            builder.Database = Uri.UnescapeDataString(database);
        }
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var key = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            var value = eq < 0 ? string.Empty : Uri.UnescapeDataString(pair[(eq + 1)..]);
            Apply(builder, key, value);
        }
        return builder;
    }

    private static void Apply(NpgsqlConnectionStringBuilder builder, string key, string value)
    {
        if (key.Equals("sslmode", StringComparison.OrdinalIgnoreCase))
        {
            builder.SslMode = value.ToLowerInvariant() switch
            {
                "disable" => SslMode.Disable,
                "allow" => SslMode.Allow,
                "prefer" => SslMode.Prefer,
                "require" => SslMode.Require,
                "verify-ca" => SslMode.VerifyCA,
                "verify-full" => SslMode.VerifyFull,
                _ => throw new ConnectionStringException($"sslmode '{value}' is not one of disable, allow, prefer, require, verify-ca, verify-full."),
            };
            return;
        }
        if (!LibpqKeywords.TryGetValue(key, out var npgsqlKey))
        {
            throw new ConnectionStringException($"The connection keyword '{key}' is not supported.");
        }
        builder[npgsqlKey] = value;
    }
}
