using System.Management.Automation;
using System.Reflection;
using System.Runtime.ExceptionServices;

namespace PostgresSource.PowerShell.Infrastructure;

/// <summary>
/// Tells why WriteObject threw. A downstream Select-Object -First n takes the object, then throws the engine's
/// internal StopUpstreamCommandsException; the engine records it as the pipeline's first terminating error and
/// the command upstream sees only a PipelineStoppedException, as it would for Ctrl+C or a downstream error. Only
/// the first case means "taken". The engine keeps no public trace of it, so this reads, by reflection, the recorded
/// error (MshCommandRuntime.PipelineProcessor._firstTerminatingError) and the per-command input counts
/// (InvocationInfo.PipelineIterationInfo: the object did reach the next command); both are internal, unchanged for
/// years. Anything unexpected answers false: not taken, so the change is sent again rather than lost.
/// </summary>
internal static class DownstreamStop
{
    private const string StopUpstreamType = "System.Management.Automation.StopUpstreamCommandsException";

    // The per-command input counts the engine keeps for the pipeline (internal, one array shared by its commands).
    private static readonly PropertyInfo? IterationInfo =
        typeof(InvocationInfo).GetProperty("PipelineIterationInfo", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);

    /// <summary>How many objects the next command has received so far (-1 when there is no next command in this pipeline).</summary>
    public static int ReceivedDownstream(PSCmdlet cmdlet)
    {
        var invocation = cmdlet.MyInvocation;
        var next = invocation.PipelinePosition + 1;
        return IterationInfo?.GetValue(invocation) is int[] counts && invocation.PipelinePosition < invocation.PipelineLength && next < counts.Length
            ? counts[next]
            : -1;
    }

    /// <summary>
    /// True when the pipeline stopped because a command downstream stopped the commands before it (Select-Object
    /// -First) after the object written last reached the next command (<paramref name="receivedBefore"/>: the count before writing).
    /// </summary>
    public static bool StoppedAfterTaking(PSCmdlet cmdlet, Exception exception, int receivedBefore)
    {
        if (exception is not PipelineStoppedException || receivedBefore < 0 || ReceivedDownstream(cmdlet) <= receivedBefore)
        {
            return false;
        }
        if (exception.GetType().FullName == StopUpstreamType)
        {
            return true;
        }
        try
        {
            var runtime = cmdlet.CommandRuntime;
            var processor = runtime?.GetType().GetProperty("PipelineProcessor", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)?.GetValue(runtime);
            var first = processor?.GetType().GetField("_firstTerminatingError", BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(processor) as ExceptionDispatchInfo;
            return first?.SourceException.GetType().FullName == StopUpstreamType;
        }
        catch (Exception ex) when (ex is TargetInvocationException or MemberAccessException or InvalidOperationException)
        {
            return false;
        }
    }
}
