using System.Collections;
using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;

namespace PostgresSource.PowerShell.Tests;

/// <summary>
/// A real PowerShell engine in this process with the built module imported, as a user's session
/// would have it. Each test opens its own so state cannot leak between tests.
/// </summary>
internal sealed class PowerShellSession : IDisposable
{
    private readonly Runspace _runspace;
    private readonly CapturingHost _host;

    private PowerShellSession(Runspace runspace, CapturingHost host)
    {
        _runspace = runspace;
        _host = host;
    }

    /// <summary>What Out-Host/Out-Default printed so far, rendered with the module's views.</summary>
    public string HostText => _host.Text;

    /// <summary>The test host's answers to confirmation prompts (null: prompting is an error, as in a runbook).</summary>
    public CapturingHost Host => _host;

    /// <param name="utility">Also import Microsoft.PowerShell.Utility (Select-Object, Sort-Object, Start-Sleep), as a user's session has it.</param>
    public static PowerShellSession Open(bool importModule = true, bool utility = false)
    {
        var host = new CapturingHost();
        var state = InitialSessionState.CreateDefault2();
        if (utility)
        {
            // Resolved through the test's deps.json, which picks the assembly for this platform (runtimes/unix or win).
            var assembly = System.Reflection.Assembly.Load(new System.Reflection.AssemblyName("Microsoft.PowerShell.Commands.Utility"));
            state.ImportPSModule([assembly.Location]);
        }
        var runspace = RunspaceFactory.CreateRunspace(host, state);
        runspace.Open();
        var session = new PowerShellSession(runspace, host);
        if (importModule)
        {
            var result = session.Run("Import-Module -Name $path -ErrorAction Stop -PassThru", new Hashtable { ["path"] = ModuleLayout.ManifestPath });
            if (result.Errors.Count > 0)
            {
                throw new InvalidOperationException("Import-Module failed: " + result.Errors[0]);
            }
        }
        return session;
    }

    public sealed record Result(Collection<PSObject> Output, IReadOnlyList<ErrorRecord> Errors, IReadOnlyList<string> Warnings, IReadOnlyList<string> Verbose, Exception? Terminating)
    {
        /// <summary>The debug stream (-Debug): the SQL statements and Kubernetes API calls the cmdlets report.</summary>
        public IReadOnlyList<string> Debug { get; init; } = [];

        /// <summary>The information stream (Write-Information, Write-Host).</summary>
        public IReadOnlyList<string> Information { get; init; } = [];

        public T Single<T>() => (T)Assert.Single(Output).BaseObject;
        public IEnumerable<T> All<T>() => Output.Select(o => (T)o.BaseObject);
        public dynamic? Property(int index, string name) => Output[index].Properties[name]?.Value;
    }

    /// <summary>Runs a script with the given variables set; terminating errors are returned, not thrown.</summary>
    public Result Run(string script, IDictionary? variables = null)
    {
        using var shell = System.Management.Automation.PowerShell.Create();
        shell.Runspace = _runspace;
        if (variables is not null)
        {
            foreach (DictionaryEntry variable in variables)
            {
                _runspace.SessionStateProxy.SetVariable((string)variable.Key, variable.Value);
            }
        }
        shell.AddScript(script);
        Collection<PSObject> output = [];
        Exception? terminating = null;
        try
        {
            output = shell.Invoke();
        }
        catch (RuntimeException ex)
        {
            terminating = ex;
        }
        return new Result(
            output,
            shell.Streams.Error.ToList(),
            shell.Streams.Warning.Select(w => w.Message).ToList(),
            shell.Streams.Verbose.Select(v => v.Message).ToList(),
            terminating)
        {
            Debug = shell.Streams.Debug.Select(d => d.Message).ToList(),
            Information = shell.Streams.Information.Select(i => i.MessageData?.ToString() ?? string.Empty).ToList(),
        };
    }

    /// <summary>A PowerShell instance on this session's runspace, for tests that run a script asynchronously (BeginInvoke, Stop).</summary>
    public System.Management.Automation.PowerShell Create(string script, IDictionary? variables = null)
    {
        if (variables is not null)
        {
            foreach (DictionaryEntry variable in variables)
            {
                _runspace.SessionStateProxy.SetVariable((string)variable.Key, variable.Value);
            }
        }
        var shell = System.Management.Automation.PowerShell.Create();
        shell.Runspace = _runspace;
        shell.AddScript(script);
        return shell;
    }

    /// <summary>Everything the session printed or kept, for "the password never appears" checks.</summary>
    public static string AllText(Result result) => string.Join('\n',
        result.Output.Select(o => o?.ToString() ?? string.Empty)
            .Concat(result.Output.SelectMany(o => o?.Properties.Select(p => p.Value?.ToString() ?? string.Empty) ?? []))
            .Concat(result.Errors.Select(e => e.ToString() + " " + e.ErrorDetails?.Message + " " + e.Exception))
            .Concat(result.Warnings)
            .Concat(result.Verbose)
            .Concat(result.Debug)
            .Concat(result.Information)
            .Append(result.Terminating?.ToString() ?? string.Empty));

    public void Dispose() => _runspace.Dispose();
}
