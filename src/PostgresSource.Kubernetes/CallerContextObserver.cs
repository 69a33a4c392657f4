using System.Runtime.ExceptionServices;
using PostgresSource.Core.Diagnostics;

namespace PostgresSource.Kubernetes;

/// <summary>
/// The observer rule of <see cref="ISyncObserver"/>, enforced: every call reaches the caller's observer on the
/// <see cref="SynchronizationContext"/> that was current when the sync started, however the engine's own awaits
/// resume (it uses ConfigureAwait(false)). The cmdlet needs that: its observer writes objects, progress and errors
/// and asks ShouldProcess, which PowerShell allows on the pipeline thread only (PipelineThreadPump's context pumps
/// that thread). Each call waits for its answer (Approve returns one), and an observer's exception is rethrown to the
/// engine as if the call had been direct. Without a context (tests, a controller) calls are made directly.
/// </summary>
internal sealed class CallerContextObserver : ISyncObserver
{
    private readonly ISyncObserver _observer;
    private readonly SynchronizationContext _context;

    private CallerContextObserver(ISyncObserver observer, SynchronizationContext context)
    {
        _observer = observer;
        _context = context;
    }

    /// <summary><paramref name="observer"/> bound to <paramref name="context"/>; itself when there is no context.</summary>
    public static ISyncObserver Bind(ISyncObserver observer, SynchronizationContext? context) =>
        context is null ? observer : new CallerContextObserver(observer, context);

    public Approval Approve(PlannedChange change) => OnContext(() => _observer.Approve(change));

    public void Report(ObjectChange change) => OnContext(() => _observer.Report(change));

    public void Warn(string message, Remedy remedy) => OnContext(() => _observer.Warn(message, remedy));

    public void Verbose(string message) => OnContext(() => _observer.Verbose(message));

    public void Progress(int done, int total, string activity) => OnContext(() => _observer.Progress(done, total, activity));

    public void Failed(string source, Exception error) => OnContext(() => _observer.Failed(source, error));

    private void OnContext(Action call) => OnContext(() =>
    {
        call();
        return true;
    });

    /// <summary>
    /// Runs <paramref name="call"/> on the context and waits for it: directly when already there, else by Post (the one
    /// operation every context implements; the default Send would run it right here, on the wrong thread).
    /// </summary>
    private T OnContext<T>(Func<T> call)
    {
        if (SynchronizationContext.Current == _context)
        {
            return call();
        }
        T result = default!;
        ExceptionDispatchInfo? error = null;
        using var done = new ManualResetEventSlim();
        _context.Post(_ =>
        {
            try
            {
                result = call();
            }
            catch (Exception ex)
            {
                error = ExceptionDispatchInfo.Capture(ex);
            }
            finally
            {
                done.Set();
            }
        }, null);
        done.Wait();
        error?.Throw();
        return result;
    }
}
