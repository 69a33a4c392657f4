using Npgsql;
using PostgresSource.Core.Connections;

namespace PostgresSource.Core.Database;

/// <summary>
/// Chooses the connection when none is given: PGSOURCE_CONNECTION first, then the standard libpq
/// PG* variables below, as libpq reads them (docs/adapter.md, Environment, lists them for the adapter).
/// </summary>
internal static class ConnectionResolver
{
    public const string EnvironmentVariable = "PGSOURCE_CONNECTION";

    private static readonly (string Variable, string Keyword)[] LibpqVariables =
    [
        ("PGHOST", "Host"),
        ("PGPORT", "Port"),
        ("PGDATABASE", "Database"),
        ("PGUSER", "Username"),
        ("PGPASSWORD", "Password"),
        ("PGAPPNAME", "Application Name"),
        ("PGCONNECT_TIMEOUT", "Timeout"),
        ("PGSSLROOTCERT", "Root Certificate"),
        ("PGPASSFILE", "Passfile"),
    ];

    /// <summary>The libpq variables read when PGSOURCE_CONNECTION is not set, PGSSLMODE included (for help texts).</summary>
    public static IReadOnlyList<string> LibpqVariableNames { get; } = [.. LibpqVariables.Select(v => v.Variable), SslModeVariable];

    private const string SslModeVariable = "PGSSLMODE";

    /// <summary>The explicit connection if given, otherwise the environment's; null when there is none.</summary>
    public static ConnectionSettings? Resolve(string? explicitConnectionString, Func<string, string?>? getEnvironment = null)
    {
        getEnvironment ??= Environment.GetEnvironmentVariable;
        if (!string.IsNullOrWhiteSpace(explicitConnectionString))
        {
            return ConnectionSettings.Parse(explicitConnectionString, "parameter");
        }

        var fromVariable = getEnvironment(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromVariable))
        {
            return ConnectionSettings.Parse(fromVariable, EnvironmentVariable);
        }

        var builder = new NpgsqlConnectionStringBuilder();
        var any = false;
        foreach (var (variable, keyword) in LibpqVariables)
        {
            var value = getEnvironment(variable);
            if (!string.IsNullOrEmpty(value))
            {
                builder[keyword] = value;
                any = true;
            }
        }
        var sslMode = getEnvironment(SslModeVariable);
        if (!string.IsNullOrEmpty(sslMode))
        {
            return ConnectionSettings.Parse(
                ConnectionSettings.FromBuilder(builder, "PG* variables").ToNpgsqlConnectionString() + $";SSL Mode={MapSslMode(sslMode)}",
                "PG* variables");
        }
        return any ? ConnectionSettings.FromBuilder(builder, "PG* variables") : null;
    }

    /// <summary>Like <see cref="Resolve"/>, but a missing connection is an error that says where it looked.</summary>
    public static ConnectionSettings Require(string? explicitConnectionString, Func<string, string?>? getEnvironment = null) =>
        Resolve(explicitConnectionString, getEnvironment) ?? throw new NoConnectionException(
            $"No database connection was given, and the environment has none: neither {EnvironmentVariable} nor the PGHOST/PGDATABASE/PGUSER variables are set.");

    private static string MapSslMode(string mode) => mode.ToLowerInvariant() switch
    {
        "disable" => "Disable",
        "allow" => "Allow",
        "prefer" => "Prefer",
        "require" => "Require",
        "verify-ca" => "VerifyCA",
        "verify-full" => "VerifyFull",
        _ => throw new ConnectionStringException($"PGSSLMODE '{mode}' is not one of disable, allow, prefer, require, verify-ca, verify-full."),
    };
}
