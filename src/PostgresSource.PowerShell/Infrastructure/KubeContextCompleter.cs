using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using PostgresSource.Kubernetes;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.PowerShell.Infrastructure;

/// <summary>Tab completion for -Context: the context names in the kubeconfig the command would use.</summary>
public sealed class KubeContextCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(
        string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var kubeconfig = fakeBoundParameters?["Kubeconfig"] as string;
        var prefix = (wordToComplete ?? string.Empty).Trim('\'', '"');
        foreach (var name in ContextNames(kubeconfig))
        {
            if (name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                var text = name.Any(c => char.IsWhiteSpace(c) || c is '\'' or '$' or '`' or ';') ? $"'{name.Replace("'", "''")}'" : name;
                yield return new CompletionResult(text, name, CompletionResultType.ParameterValue, "kubeconfig context " + name);
            }
        }
    }

    // Kept out of the iterator so the core assembly is only touched when completion runs.
    private static IReadOnlyList<string> ContextNames(string? kubeconfig) => Kubeconfig.ContextNames(kubeconfig);
}
