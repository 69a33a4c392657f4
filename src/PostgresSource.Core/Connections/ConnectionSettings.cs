using Npgsql;
using PostgresSource.Core.Diagnostics;

namespace PostgresSource.Core.Connections;

/// <summary>
/// A database connection, parsed from any of the forms users bring (postgres:// URI as in the seed's
/// Secret, libpq "key=value", or Npgsql's "Key=Value;"). The password stays inside; every way of
/// showing this object masks it.
/// </summary>
internal sealed class ConnectionSettings
{
    private const string Mask = "********";
    private readonly string _npgsqlConnectionString;

    private ConnectionSettings(NpgsqlConnectionStringBuilder builder, string origin)
    {
        // Keep-alive lets a LISTEN connection notice a dead server instead of waiting forever.
        if (builder.KeepAlive == 0)
        {
            builder.KeepAlive = 30;
        }
        _npgsqlConnectionString = builder.ConnectionString;
        Host = builder.Host;
        Port = builder.Port;
        Database = builder.Database;
        Username = builder.Username;
        HasPassword = !string.IsNullOrEmpty(builder.Password);
        Origin = origin;
    }

    public string? Host { get; }
    public int Port { get; }
    public string? Database { get; }
    public string? Username { get; }
    public bool HasPassword { get; }

    /// <summary>Where the settings came from ("parameter", "PGSOURCE_CONNECTION", "PG* variables", ...).</summary>
    public string Origin { get; }

    public static ConnectionSettings Parse(string connectionString, string origin = "parameter")
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            throw new ConnectionStringException("The connection string is empty.");
        }
        return new ConnectionSettings(ConnectionStringParser.ToBuilder(connectionString), origin);
    }

    public static ConnectionSettings FromBuilder(NpgsqlConnectionStringBuilder builder, string origin) =>
        new(new NpgsqlConnectionStringBuilder(builder.ConnectionString), origin);

    /// <summary>The real connection string, for Npgsql only. Never log or print it.</summary>
    public string ToNpgsqlConnectionString() => _npgsqlConnectionString;

    public NpgsqlConnectionStringBuilder ToBuilder() => new(_npgsqlConnectionString);

    /// <summary>The connection with the password masked, safe for output, errors and logs.</summary>
    public string ToDisplayString()
    {
        var parts = new List<string>();
        if (!string.IsNullOrEmpty(Host)) parts.Add($"Host={Host}");
        parts.Add($"Port={Port}");
        if (!string.IsNullOrEmpty(Database)) parts.Add($"Database={Database}");
        if (!string.IsNullOrEmpty(Username)) parts.Add($"Username={Username}");
        if (HasPassword) parts.Add($"Password={Mask}");
        return string.Join(';', parts);
    }

    /// <summary>
    /// The connection string for a connection used by one component alone for its whole life: not pooled (closing
    /// it really closes it), and named <paramref name="applicationName"/> in pg_stat_activity unless the user named it.
    /// </summary>
    public string ToPrivateConnectionString(string applicationName)
    {
        var builder = ToBuilder();
        builder.Pooling = false;
        if (string.IsNullOrEmpty(builder.ApplicationName))
        {
            builder.ApplicationName = applicationName;
        }
        return builder.ConnectionString;
    }

    /// <summary>
    /// A copy that logs in with this password, and with <paramref name="username"/> when it is not empty (it
    /// replaces or fills in the connection string's user); the password replaces any the string had. This is how
    /// -Credential joins a connection string written without a password.
    /// </summary>
    public ConnectionSettings WithCredential(string? username, string password)
    {
        var builder = ToBuilder();
        if (!string.IsNullOrWhiteSpace(username))
        {
            builder.Username = username;
        }
        builder.Password = password;
        return new ConnectionSettings(builder, Origin + " with credential");
    }

    /// <summary>
    /// A copy that verifies the server against the root certificate in <paramref name="path"/> (PEM). A root
    /// certificate is given to be used: a weaker sslmode becomes verify-full, and verify-ca stays as asked.
    /// </summary>
    public ConnectionSettings WithRootCertificate(string path)
    {
        var builder = ToBuilder();
        builder.RootCertificate = path;
        if (builder.SslMode != SslMode.VerifyCA)
        {
            builder.SslMode = SslMode.VerifyFull;
        }
        return new ConnectionSettings(builder, Origin);
    }

    /// <summary>A copy pointing at another database on the same server.</summary>
    public ConnectionSettings WithDatabase(string database)
    {
        var builder = ToBuilder();
        builder.Database = database;
        return new ConnectionSettings(builder, Origin);
    }

    public NpgsqlDataSource CreateDataSource(string applicationName = "PostgresSource")
    {
        var builder = ToBuilder();
        if (string.IsNullOrEmpty(builder.ApplicationName))
        {
            builder.ApplicationName = applicationName;
        }
        return NpgsqlDataSource.Create(builder);
    }

    public override string ToString() => ToDisplayString();
}

/// <summary>A connection string that cannot be understood. The message never contains the password.</summary>
internal class ConnectionStringException(string message, Exception? inner = null) : Exception(message, inner), IHasRemedy
{
    public Remedy Remedy { get; init; }
}

/// <summary>
/// No connection was given and the environment has none either: a distinct type, so hosts tell it from a connection
/// string that is wrong without reading the message.
/// </summary>
internal sealed class NoConnectionException : ConnectionStringException
{
    public NoConnectionException(string message) : base(message) => Remedy = Remedy.ChooseConnection;
}
