using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;

namespace PostgresSource.PowerShell;

/// <summary>
/// A database connection as the cmdlets take it (-ConnectionString) and as their output objects carry it
/// (the Connection property), so that piping an object acts on the database it came from.
/// <para>
/// It shows only the server, port, database and user, with the password masked: the real connection string
/// stays private to the module and is never in a property, ToString, a format view or Export-Clixml. A string
/// converts to it (PowerShell does that when you pass -ConnectionString 'Host=...'); the string is read when a
/// cmdlet uses it, so a bad one is reported as PgSource.InvalidConnectionString without echoing it.
/// </para>
/// </summary>
public sealed class PgSourceConnection
{
    private readonly string? _text;
    private ConnectionSettings? _settings;

    /// <summary>Converts a connection string in any form the module accepts (URI, libpq key=value, Npgsql Key=Value;).</summary>
    public PgSourceConnection(string connectionString)
    {
        _text = connectionString;
    }

    internal PgSourceConnection(ConnectionSettings settings)
    {
        _settings = settings;
    }

    /// <summary>The parsed settings (with the password); the string form is read here, and its errors raised here.</summary>
    internal ConnectionSettings Settings => _settings ??= ConnectionSettings.Parse(_text ?? string.Empty);

    /// <summary>No connection was given: an empty or blank string (so the environment's applies).</summary>
    internal bool IsEmpty => _settings is null && string.IsNullOrWhiteSpace(_text);

    private ConnectionSettings? Readable
    {
        get
        {
            try
            {
                return IsEmpty ? null : Settings;
            }
            catch (ConnectionStringException)
            {
                return null;
            }
        }
    }

    public string? Host => Readable?.Host;
    public int? Port => Readable?.Port;
    public string? Database => Readable?.Database;
    public string? Username => Readable?.Username;

    /// <summary>A password goes with the connection (shown nowhere).</summary>
    public bool HasPassword => Readable?.HasPassword ?? false;

    /// <summary>Host, port, database and user, with the password shown as ********.</summary>
    public override string ToString() => Readable?.ToDisplayString() ?? (IsEmpty ? string.Empty : "(connection string that cannot be read)");

    internal static PgSourceConnection? From(ConnectionSettings? settings) => settings is null ? null : new PgSourceConnection(settings);
}
