using System.Management.Automation;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture.Reliability;
using PostgresSource.Core.Database;
using PostgresSource.Core.Diagnostics;
using PostgresSource.Kubernetes;
using PostgresSource.Kubernetes.Manifests;
using PostgresSource.Core.Sources;

namespace PostgresSource.PowerShell.Infrastructure;

/// <summary>
/// What every cmdlet here shares: cancellation tied to StopProcessing (Ctrl+C), waiting on the core's
/// async work from the pipeline thread, connection defaults, and turning core exceptions into error
/// records with a stable id, the right category, the item as target and a recommended action.
/// </summary>
public abstract class PgSourceCmdlet : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _trace = new();

    protected CancellationToken StopToken => _stopping.Token;

    protected override void StopProcessing() => _stopping.Cancel();

    /// <summary>
    /// Runs core work and waits for it on the pipeline thread (<see cref="PipelineThreadPump"/>), so Write* in its
    /// continuations stays on that thread.
    /// </summary>
    protected T Run<T>(Func<CancellationToken, Task<T>> work)
    {
        try
        {
            using (TraceScope())
            {
                return PipelineThreadPump.Run(() => work(StopToken));
            }
        }
        finally
        {
            FlushTrace();
        }
    }

    protected void Run(Func<CancellationToken, Task> work) => Run(async ct =>
    {
        await work(ct).ConfigureAwait(false);
        return true;
    });

    /// <summary>
    /// With -Debug (or $DebugPreference asking for it): from here until disposed, the core reports every SQL statement
    /// and Kubernetes API request this command's work makes, masked; <see cref="FlushTrace"/> writes them as debug
    /// records. Null (nothing recorded) otherwise.
    /// </summary>
    protected IDisposable? TraceScope() => DebugWanted ? OperationTrace.Begin(_trace.Enqueue) : null;

    /// <summary>Writes what the core reported so far with WriteDebug. Pipeline thread only (the core reports from any thread).</summary>
    internal void FlushTrace()
    {
        while (_trace.TryDequeue(out var line))
        {
            try
            {
                WriteDebug(line);
            }
            catch (PipelineStoppedException)
            {
                // Stopping (Ctrl+C, Select-Object -First): the rest is not written; safe in finally blocks.
                _trace.Clear();
                return;
            }
        }
    }

    /// <summary>
    /// Verbose text, except under -Debug without -Verbose: there PowerShell turns every verbose line of a compiled
    /// cmdlet into a prompt (Inquire), which stops a runbook with no interactive host. The text then goes to the
    /// debug stream with the SQL, so -Debug shows everything and never asks. Hides Cmdlet.WriteVerbose for every
    /// cmdlet here.
    /// </summary>
    public new void WriteVerbose(string text)
    {
        var bound = MyInvocation.BoundParameters;
        if (bound.TryGetValue("Debug", out var debug) && LanguagePrimitives.IsTrue(debug) && !bound.ContainsKey("Verbose"))
        {
            WriteDebug(text);
            return;
        }
        base.WriteVerbose(text);
    }

    private bool DebugWanted
    {
        get
        {
            if (MyInvocation.BoundParameters.TryGetValue("Debug", out var debug))
            {
                return LanguagePrimitives.IsTrue(debug);
            }
            return GetVariableValue("DebugPreference") is ActionPreference preference &&
                   preference is not (ActionPreference.SilentlyContinue or ActionPreference.Ignore);
        }
    }

    /// <summary>
    /// The connection to use: -ConnectionString (typed, or bound from a piped object's Connection), else the source's
    /// own, else PGSOURCE_CONNECTION, else the PG* variables; then -Credential's user name and password, if given.
    /// </summary>
    internal ConnectionSettings RequireConnection(PgSourceConnection? connectionString, PSCredential? credential, SourceDefinition? source = null)
    {
        var settings = connectionString is { IsEmpty: false } given
            ? given.Settings
            : source?.Connection ?? ConnectionResolver.Require(null);
        WarnIfServerUnverified(settings);
        return WithCredential(settings, credential);
    }

    private bool _warnedUnverified;

    /// <summary>The core's warning about an unverified remote server, once per command (not once per piped source).</summary>
    private void WarnIfServerUnverified(ConnectionSettings settings)
    {
        if (!_warnedUnverified && ConnectionSecurity.UnverifiedServerWarning(settings) is { } warning)
        {
            _warnedUnverified = true;
            WriteWarning(warning);
        }
    }

    /// <summary>The settings logging in as <paramref name="credential"/>; unchanged without one (or with [PSCredential]::Empty).</summary>
    internal static ConnectionSettings WithCredential(ConnectionSettings settings, PSCredential? credential)
    {
        if (credential is null || credential == PSCredential.Empty)
        {
            return settings;
        }
        var network = credential.GetNetworkCredential();
        return settings.WithCredential(CredentialTransformationAttribute.IsPasswordOnly(credential) ? null : credential.UserName, network.Password);
    }

    private bool _yesToAllHighImpact;
    private bool _noToAllHighImpact;

    /// <summary>
    /// A second question for a change that destroys data (a backlog, a replication slot, pruned objects) in a cmdlet whose
    /// own ConfirmImpact is lower: call it after ShouldProcess approved. It asks exactly when PowerShell would have asked
    /// for a ConfirmImpact=High cmdlet but ShouldProcess did not: $ConfirmPreference is High (the default) and -Confirm
    /// was not given. -Confirm:$false (runbooks) and $ConfirmPreference = 'None' skip it; a lower preference or -Confirm
    /// already prompted. With no interactive host the question is an error, as every prompt is.
    /// </summary>
    private ConfirmImpact OwnConfirmImpact =>
        System.Reflection.CustomAttributeExtensions.GetCustomAttribute<CmdletAttribute>(GetType())?.ConfirmImpact ?? ConfirmImpact.Medium;

    internal bool ConfirmHighImpact(string target, string action)
    {
        if (OwnConfirmImpact == ConfirmImpact.High ||
            MyInvocation.BoundParameters.ContainsKey("Confirm") ||
            !LanguagePrimitives.TryConvertTo<ConfirmImpact>(GetVariableValue("ConfirmPreference"), out var preference) ||
            preference != ConfirmImpact.High)
        {
            return true;
        }
        return ShouldContinue($"{action} on {target} destroys data that cannot be recovered. Continue?",
            "Confirm (high impact)", ref _yesToAllHighImpact, ref _noToAllHighImpact);
    }

    /// <summary>
    /// Maps a failure to an error record. The message never contains a password. The recommended action is the cmdlet
    /// advice for the remedy the exception states (<see cref="CmdletAdvice"/>), else the one for its kind.
    /// </summary>
    internal static ErrorRecord ToErrorRecord(Exception exception, object? target)
    {
        var (id, category, kindAction) = Classify(exception);
        var action = CmdletAdvice.For(exception) ?? kindAction;
        var record = new ErrorRecord(exception, id, category, target);
        if (action is not null)
        {
            record.ErrorDetails = new ErrorDetails(record.Exception.Message) { RecommendedAction = action };
        }
        return record;
    }

    protected void WriteFailure(Exception exception, object? target) => WriteError(ToErrorRecord(exception, target));

    /// <summary>The id, category and recommended action for the kind of failure; a stated remedy's advice comes first.</summary>
    private static (string Id, ErrorCategory Category, string? Action) Classify(Exception exception) => exception switch
    {
        MissingTablesException => (ErrorIds.TableNotFound, ErrorCategory.ObjectNotFound,
            "Check the table names (schema.table; names are case-sensitive when quoted) and that the user can see them."),
        SourceValidationException => (ErrorIds.InvalidSource, ErrorCategory.InvalidArgument, null),
        TableFilterException => (ErrorIds.InvalidSource, ErrorCategory.InvalidArgument, "Fix the table's filter (docs/capture-modes.md, Table filters) and install again."),
        NoConnectionException => (ErrorIds.NoConnection, ErrorCategory.InvalidArgument, null),
        ConnectionStringException => (ErrorIds.InvalidConnectionString, ErrorCategory.InvalidArgument, null),
        CaptureModeConflictException => (ErrorIds.ModeConflict, ErrorCategory.ResourceExists, null),
        SourceOwnershipException => (ErrorIds.NotOwner, ErrorCategory.PermissionDenied, null),
        ManifestException => (ErrorIds.ManifestInvalid, ErrorCategory.InvalidData, "Fix the field named in the message and import again."),
        KubeconfigException => (ErrorIds.KubeconfigInvalid, ErrorCategory.InvalidArgument, null),
        ClusterUnreachableException => (ErrorIds.ClusterUnreachable, ErrorCategory.ConnectionError,
            "Check the kubeconfig context (-Context), the network, and that the cluster is running."),
        ClusterRequestException { StatusCode: System.Net.HttpStatusCode.Unauthorized } => (ErrorIds.ClusterUnauthorized, ErrorCategory.AuthenticationError, null),
        ClusterRequestException { StatusCode: System.Net.HttpStatusCode.Forbidden } => (ErrorIds.ClusterForbidden, ErrorCategory.PermissionDenied, null),
        ClusterRequestException { StatusCode: System.Net.HttpStatusCode.Conflict } => (ErrorIds.ClusterConflict, ErrorCategory.WriteError, null),
        ClusterRequestException { StatusCode: System.Net.HttpStatusCode.NotFound } => (ErrorIds.ClusterRequestFailed, ErrorCategory.ObjectNotFound, null),
        ClusterRequestException { StatusCode: System.Net.HttpStatusCode.UnprocessableEntity } => (ErrorIds.ClusterRequestFailed, ErrorCategory.InvalidData, null),
        SinkResolutionException => (ErrorIds.SinkNotResolved, ErrorCategory.ObjectNotFound,
            "Create the sink (or fix spec.sink), wait until it is ready, and run Sync-PgSourceCluster again."),
        UninstallJobException => (ErrorIds.UninstallJobFailed, ErrorCategory.InvalidResult,
            "Read the Job's logs (kubectl logs job/<name>), fix the cause, and prune again with -RunUninstallJob."),
        ClusterException => (ErrorIds.ClusterRequestFailed, ErrorCategory.InvalidOperation, null),
        SourceBusyException => (ErrorIds.SourceBusy, ErrorCategory.ResourceBusy,
            "Stop the other listener (the message names its session), run with -Standby to wait and take over when it stops, or use -Peek to read the backlog without consuming it."),
        NotSupportedException => (ErrorIds.NotSupported, ErrorCategory.NotImplemented, null),
        // Npgsql's types live in the module's own load context: the core classifies its exceptions.
        _ => DatabaseErrors.Classify(exception) switch
        {
            DatabaseErrorKind.Authentication => (ErrorIds.AuthenticationFailed, ErrorCategory.AuthenticationError,
                "Check the user name and password (-Credential, or the connection string)."),
            DatabaseErrorKind.PermissionDenied => (ErrorIds.PermissionDenied, ErrorCategory.PermissionDenied,
                "Connect as the table owner, or a role allowed to create functions and triggers on these tables."),
            DatabaseErrorKind.LockTimeout => (ErrorIds.LockTimeout, ErrorCategory.ResourceBusy,
                "Another session holds a lock on a table; try again when it has finished."),
            DatabaseErrorKind.Sql => (ErrorIds.DatabaseError, ErrorCategory.InvalidOperation, null),
            DatabaseErrorKind.Timeout => (ErrorIds.OperationTimeout, ErrorCategory.OperationTimeout, null),
            DatabaseErrorKind.Connection => (ErrorIds.ConnectionFailed, ErrorCategory.ConnectionError,
                "Check that the server is running and reachable, and the host and port in the connection string."),
            _ => (ErrorIds.Unexpected, ErrorCategory.NotSpecified, null),
        },
    };

    public void Dispose()
    {
        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }
}
