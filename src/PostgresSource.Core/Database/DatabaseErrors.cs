using Npgsql;

namespace PostgresSource.Core.Database;

/// <summary>What kind of database failure an exception is.</summary>
internal enum DatabaseErrorKind
{
    /// <summary>Not a database error.</summary>
    None,
    Authentication,
    PermissionDenied,
    LockTimeout,
    Timeout,
    /// <summary>Any other error the server reported.</summary>
    Sql,
    /// <summary>The server could not be reached or the connection broke.</summary>
    Connection,
}

/// <summary>
/// Classifies database exceptions inside the core, so callers in another assembly load context (the
/// cmdlets) never need the Npgsql types themselves: they would not be the same types there.
/// </summary>
internal static class DatabaseErrors
{
    public static DatabaseErrorKind Classify(Exception exception) => exception switch
    {
        PostgresException { SqlState: PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification } => DatabaseErrorKind.Authentication,
        PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege } => DatabaseErrorKind.PermissionDenied,
        PostgresException { SqlState: PostgresErrorCodes.LockNotAvailable } => DatabaseErrorKind.LockTimeout,
        PostgresException => DatabaseErrorKind.Sql,
        TimeoutException or NpgsqlException { InnerException: TimeoutException } => DatabaseErrorKind.Timeout,
        // The server asked for a password and none was given (a connection string without one, and no credential).
        // Npgsql raises that as a plain NpgsqlException with no SqlState and no type of its own: its text is all there is.
        NpgsqlException { Message: var message } when message.Contains("No password has been provided", StringComparison.Ordinal) =>
            DatabaseErrorKind.Authentication,
        NpgsqlException => DatabaseErrorKind.Connection,
        _ => DatabaseErrorKind.None,
    };
}
