using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace PostgresSource.Core.Diagnostics;

/// <summary>
/// The core's one hook for "what did it send": each SQL statement run and each Kubernetes API request made,
/// as text with passwords masked. A caller (the cmdlets' -Debug) opens a scope with <see cref="Begin"/>; work
/// started inside the scope, on any thread, reports to that scope's writer (it flows with the async context),
/// and nothing is recorded when no scope is open. The writer may be called from any thread.
/// </summary>
internal static class OperationTrace
{
    private static readonly AsyncLocal<Action<string>?> Current = new();
    private static int _npgsqlHooked;

    // key=value passwords (libpq and Npgsql spellings) and the password of a URI's user info.
    private static readonly Regex Secrets = new(
        @"(?<key>\b(?:password|pwd)\s*=\s*)(?:'(?:[^']|'')*'|""(?:[^""]|"""")*""|[^;\s]+)|(?<uri>\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+@",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled);

    /// <summary>True when a scope is open in this async flow.</summary>
    public static bool Enabled => Current.Value is not null;

    /// <summary>Reports to <paramref name="write"/> until the result is disposed (restoring the scope before).</summary>
    public static IDisposable Begin(Action<string> write)
    {
        HookNpgsql();
        var previous = Current.Value;
        Current.Value = write;
        return new Scope(previous);
    }

    /// <summary>Reports one operation (masked) to the open scope, if any.</summary>
    public static void Write(string text)
    {
        if (Current.Value is { } write)
        {
            write(Mask(text));
        }
    }

    /// <summary>The text with every password in it replaced by ********.</summary>
    public static string Mask(string text) => Secrets.Replace(text, m =>
        m.Groups["key"].Success ? m.Groups["key"].Value + "********" : m.Groups["uri"].Value + "********@");

    /// <summary>
    /// Routes Npgsql's command log (every statement, through any connection the core opens) into the open scope.
    /// Npgsql reads its global logging configuration when a connection pool is made, so this runs once, as early
    /// as possible (the module calls it on import); it costs nothing while no scope is open.
    /// </summary>
    public static void HookNpgsql()
    {
        if (Interlocked.Exchange(ref _npgsqlHooked, 1) == 0)
        {
            NpgsqlLoggingConfiguration.InitializeLogging(new TraceLoggerFactory(), parameterLoggingEnabled: false);
        }
    }

    private sealed class Scope(Action<string>? previous) : IDisposable
    {
        public void Dispose() => Current.Value = previous;
    }

    private sealed class TraceLoggerFactory : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) =>
            categoryName.StartsWith("Npgsql.Command", StringComparison.Ordinal) ? CommandLogger.Instance : NoLogger.Instance;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }
    }

    /// <summary>Npgsql's "command execution completed" entries: the statement text, never parameter values.</summary>
    private sealed class CommandLogger : ILogger
    {
        public static readonly CommandLogger Instance = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information && Enabled;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel) || state is not IReadOnlyList<KeyValuePair<string, object?>> fields)
            {
                return;
            }
            foreach (var (key, value) in fields)
            {
                if (key == "CommandText" && value is string sql)
                {
                    Write("SQL: " + sql.Trim());
                    return;
                }
                if (key == "BatchCommands")
                {
                    Write("SQL batch: " + formatter(state, exception));
                    return;
                }
            }
        }
    }

    private sealed class NoLogger : ILogger
    {
        public static readonly NoLogger Instance = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => false;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
        }
    }
}

/// <summary>Reports each Kubernetes API request (method and URL; never headers, so never a token) to <see cref="OperationTrace"/>.</summary>
internal sealed class KubernetesRequestTrace : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!OperationTrace.Enabled)
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        OperationTrace.Write($"Kubernetes API: {request.Method} {request.RequestUri}");
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        OperationTrace.Write($"Kubernetes API: {request.Method} {request.RequestUri?.AbsolutePath} -> {(int)response.StatusCode} {response.StatusCode}");
        return response;
    }
}
