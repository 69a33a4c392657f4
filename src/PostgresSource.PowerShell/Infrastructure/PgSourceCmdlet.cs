using System.Management.Automation;
using PostgresSource.Core.Capture.Reliability;
using PostgresSource.Core.Database;
using PostgresSource.Core.Kubernetes;
using PostgresSource.Core.Manifests;
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

    protected CancellationToken StopToken => _stopping.Token;

    protected override void StopProcessing() => _stopping.Cancel();

    /// <summary>Runs core work and waits for it on the pipeline thread, so Write* stays on that thread.</summary>
    protected T Run<T>(Func<CancellationToken, Task<T>> work) => work(StopToken).GetAwaiter().GetResult();

    protected void Run(Func<CancellationToken, Task> work) => work(StopToken).GetAwaiter().GetResult();

    /// <summary>-ConnectionString, else the source's own, else PGSOURCE_CONNECTION, else PG* variables.</summary>
    internal ConnectionSettings RequireConnection(string? connectionString, SourceDefinition? source = null)
    {
        if (string.IsNullOrWhiteSpace(connectionString) && source?.Connection is { } own)
        {
            return own;
        }
        return ConnectionResolver.Require(connectionString);
    }

    /// <summary>Maps a failure to an error record. The message never contains a password.</summary>
    internal static ErrorRecord ToErrorRecord(Exception exception, object? target)
    {
        var (id, category, action) = Classify(exception);
        var record = new ErrorRecord(exception, id, category, target);
        if (action is not null)
        {
            record.ErrorDetails = new ErrorDetails(record.Exception.Message) { RecommendedAction = action };
        }
        return record;
    }

    protected void WriteFailure(Exception exception, object? target) => WriteError(ToErrorRecord(exception, target));

    private static (string Id, ErrorCategory Category, string? Action) Classify(Exception exception) => exception switch
    {
        MissingTablesException => (ErrorIds.TableNotFound, ErrorCategory.ObjectNotFound,
            "Check the table names (schema.table; names are case-sensitive when quoted) and that the user can see them."),
        SourceValidationException => (ErrorIds.InvalidSource, ErrorCategory.InvalidArgument, null),
        ConnectionStringException ex when ex.Message.StartsWith("No database connection", StringComparison.Ordinal) =>
            (ErrorIds.NoConnection, ErrorCategory.InvalidArgument, "Pass -ConnectionString or set PGSOURCE_CONNECTION."),
        ConnectionStringException => (ErrorIds.InvalidConnectionString, ErrorCategory.InvalidArgument, null),
        CaptureModeConflictException => (ErrorIds.ModeConflict, ErrorCategory.ResourceExists,
            "Pass -SwitchMode to switch (read its warnings: waiting changes can be dropped), or use the source's current -Mode."),
        SourceOwnershipException => (ErrorIds.NotOwner, ErrorCategory.PermissionDenied,
            "Connect as the role that owns the objects named, or pass -TakeOver to remove them and install afresh (what they hold is lost)."),
        ManifestException => (ErrorIds.ManifestInvalid, ErrorCategory.InvalidData, "Fix the field named in the message and import again."),
        KubeconfigException => (ErrorIds.KubeconfigInvalid, ErrorCategory.InvalidArgument,
            "Pass -Kubeconfig, set KUBECONFIG, or choose one of the kubeconfig's contexts with -Context."),
        ClusterUnreachableException => (ErrorIds.ClusterUnreachable, ErrorCategory.ConnectionError,
            "Check the kubeconfig context (-Context), the network, and that the cluster is running."),
        ClusterRequestException { StatusCode: System.Net.HttpStatusCode.Unauthorized } => (ErrorIds.ClusterUnauthorized, ErrorCategory.AuthenticationError,
            "Log in to the cluster again (the token or certificate may have expired), or choose another -Context."),
        ClusterRequestException { StatusCode: System.Net.HttpStatusCode.Forbidden } => (ErrorIds.ClusterForbidden, ErrorCategory.PermissionDenied,
            "Ask for RBAC permission for the verb and resource named in the message, or use a -Context whose identity has it."),
        ClusterRequestException { StatusCode: System.Net.HttpStatusCode.Conflict } => (ErrorIds.ClusterConflict, ErrorCategory.WriteError,
            "Run again with -Force to take over the conflicting fields, or change them through the field manager that owns them."),
        ClusterRequestException { StatusCode: System.Net.HttpStatusCode.NotFound } => (ErrorIds.ClusterRequestFailed, ErrorCategory.ObjectNotFound, null),
        ClusterRequestException { StatusCode: System.Net.HttpStatusCode.UnprocessableEntity } => (ErrorIds.ClusterRequestFailed, ErrorCategory.InvalidData, null),
        SinkResolutionException => (ErrorIds.SinkNotResolved, ErrorCategory.ObjectNotFound,
            "Create the sink (or fix spec.sink), wait until it is ready, and run Sync-PgSourceCluster again."),
        UninstallJobException => (ErrorIds.UninstallJobFailed, ErrorCategory.InvalidResult,
            "Read the Job's logs (kubectl logs job/<name>), fix the cause, and prune again with -RunUninstallJob."),
        ClusterException => (ErrorIds.ClusterRequestFailed, ErrorCategory.InvalidOperation, null),
        SourceBusyException => (ErrorIds.SourceBusy, ErrorCategory.ResourceBusy,
            "Stop the other listener (the message names its session), run with -Standby to wait and take over when it stops, or use -Peek to read the backlog without consuming it."),
        // Npgsql's types live in the module's own load context: the core classifies its exceptions.
        _ => DatabaseErrors.Classify(exception) switch
        {
            DatabaseErrorKind.Authentication => (ErrorIds.AuthenticationFailed, ErrorCategory.AuthenticationError,
                "Check the user name and password in the connection string."),
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
