using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;

namespace PostgresSource.PowerShell.Completion;

/// <summary>
/// Shared by completers that ask the database the command will use: -ConnectionString when typed,
/// otherwise the environment. A completer must never fail or hang the prompt: errors give no results.
/// </summary>
public abstract class DatabaseCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var prefix = wordToComplete.Trim('\'', '"');
        try
        {
            var connectionString = fakeBoundParameters["ConnectionString"] as string;
            var connection = ConnectionResolver.Resolve(connectionString);
            if (connection is null)
            {
                return [];
            }
            return Lookup(connection, prefix).GetAwaiter().GetResult()
                .Select(value => new CompletionResult(QuoteForPowerShell(value), value, CompletionResultType.ParameterValue, value))
                .ToList();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return [];
        }
    }

    private protected abstract Task<IReadOnlyList<string>> Lookup(ConnectionSettings connection, string prefix);

    private static string QuoteForPowerShell(string value) =>
        value.Any(c => char.IsWhiteSpace(c) || c is '"' or '\'' or ',' or ';' or '$' or '(' or ')' or '{' or '}' or '@' or '`')
            ? "'" + value.Replace("'", "''") + "'"
            : value;
}

/// <summary>Completes -Table with the tables of the database.</summary>
public sealed class TableNameCompleter : DatabaseCompleter
{
    private protected override Task<IReadOnlyList<string>> Lookup(ConnectionSettings connection, string prefix) =>
        CatalogBrowser.TablesAsync(connection, prefix);
}

/// <summary>Completes -Name with the sources installed in the database.</summary>
public sealed class InstalledSourceNameCompleter : DatabaseCompleter
{
    private protected override Task<IReadOnlyList<string>> Lookup(ConnectionSettings connection, string prefix) =>
        CatalogBrowser.SourceNamesAsync(connection, prefix);
}
