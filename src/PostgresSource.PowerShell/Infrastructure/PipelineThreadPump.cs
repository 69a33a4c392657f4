namespace PostgresSource.PowerShell.Infrastructure;

/// <summary>
/// Runs async core work so that every continuation of it that did not opt out (ConfigureAwait(false)) comes back to
/// the calling (pipeline) thread through a <see cref="PipelineInbox{T}"/>: the core's callbacks (confirmation,
/// WriteObject, WriteProgress, WriteError) then run where PowerShell allows them.
/// </summary>
internal static class PipelineThreadPump
{
    public static T Run<T>(Func<Task<T>> work)
    {
        var previous = SynchronizationContext.Current;
        using var context = new PumpContext();
        SynchronizationContext.SetSynchronizationContext(context);
        try
        {
            var task = work();
            task.ContinueWith(_ => context.Complete(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            context.RunUntilComplete();
            return task.GetAwaiter().GetResult();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }
    }

    public static void Run(Func<Task> work) => Run(async () =>
    {
        await work();
        return true;
    });

    private sealed class PumpContext : SynchronizationContext, IDisposable
    {
        private readonly PipelineInbox<(SendOrPostCallback Callback, object? State)> _inbox = new();
        private readonly int _threadId = Environment.CurrentManagedThreadId;

        public override void Post(SendOrPostCallback d, object? state)
        {
            if (!_inbox.Post((d, state)))
            {
                // The pump has finished: run the late continuation where it is.
                ThreadPool.QueueUserWorkItem(_ => d(state));
            }
        }

        public override void Send(SendOrPostCallback d, object? state)
        {
            if (Environment.CurrentManagedThreadId == _threadId)
            {
                d(state);
                return;
            }
            using var done = new ManualResetEventSlim();
            Exception? error = null;
            Post(_ =>
            {
                try
                {
                    d(state);
                }
                catch (Exception ex)
                {
                    error = ex;
                }
                finally
                {
                    done.Set();
                }
            }, null);
            done.Wait();
            if (error is not null)
            {
                throw error;
            }
        }

        public override SynchronizationContext CreateCopy() => this;

        /// <summary>Runs what is posted until the work is complete and nothing more waits.</summary>
        public void RunUntilComplete()
        {
            while (true)
            {
                while (_inbox.TryTake(out var next))
                {
                    next.Callback(next.State);
                }
                if (_inbox.IsClosed && _inbox.IsEmpty)
                {
                    return;
                }
                _inbox.Wait(Timeout.InfiniteTimeSpan, CancellationToken.None);
            }
        }

        public void Complete() => _inbox.Close();

        public void Dispose() => _inbox.Dispose();
    }
}
