using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using PostgresSource.Core.Diagnostics;
using PostgresSource.Kubernetes;

namespace PostgresSource.Kubernetes.Tests;

/// <summary>
/// The observer rule (ISyncObserver): every observer call arrives on the SynchronizationContext of the caller of
/// SyncAsync, as the cmdlet's pipeline thread needs, although the engine's own work leaves that context
/// (ConfigureAwait(false)).
/// </summary>
public sealed class ObserverContextTests : IDisposable
{
    private readonly SyncHarness _harness = new();

    public void Dispose() => _harness.Dispose();

    [Fact]
    public void ObserverCallsArriveOnTheCallersContext()
    {
        using var context = new SingleThreadContext();
        var observer = new ThreadRecordingObserver(context);
        using var api = new ThreadRecordingApi(KubernetesClusterApi.Connect(_harness.KubeconfigPath, null));
        var engine = new ClusterSynchronizer(api, new SyncOptions { PollInterval = TimeSpan.FromMilliseconds(20) }, observer);

        context.Run(() => engine.SyncAsync([SyncHarness.Source()], CancellationToken.None));

        // The engine did leave the context: some API calls came from other threads.
        Assert.Contains(api.Threads, thread => thread != context.ThreadId);
        Assert.Contains(observer.Calls, c => c.Call == nameof(ISyncObserver.Approve));
        Assert.Contains(observer.Calls, c => c.Call == nameof(ISyncObserver.Report));
        Assert.Contains(observer.Calls, c => c.Call == nameof(ISyncObserver.Progress));
        Assert.All(observer.Calls, c =>
        {
            Assert.Equal(context.ThreadId, c.Thread);
            Assert.True(c.OnContext, $"{c.Call} ran with another SynchronizationContext current.");
        });
        // The answers went back to the engine: the approved writes were made.
        Assert.NotNull(_harness.Server.Find("sources.vaikas.dev", "postgressources", "default", "orders"));
        Assert.Empty(observer.Failures);
    }

    [Fact]
    public void AnObserversExceptionReachesTheEngineAsIfCalledDirectly()
    {
        using var context = new SingleThreadContext();
        var observer = new ThreadRecordingObserver(context) { RefuseWith = new InvalidOperationException("the host said no") };
        using var api = KubernetesClusterApi.Connect(_harness.KubeconfigPath, null);
        var engine = new ClusterSynchronizer(api, new SyncOptions(), observer);

        var error = Assert.Throws<InvalidOperationException>(() => context.Run(() => engine.SyncAsync([SyncHarness.Source()], CancellationToken.None)));
        Assert.Equal("the host said no", error.Message);
        Assert.Contains(nameof(ThreadRecordingObserver.Approve), error.StackTrace);
    }

    /// <summary>One thread that runs what is posted to it, in order, with itself as the current context.</summary>
    private sealed class SingleThreadContext : SynchronizationContext, IDisposable
    {
        private readonly BlockingCollection<(SendOrPostCallback Callback, object? State)> _queue = [];
        private readonly Thread _thread;

        public SingleThreadContext()
        {
            _thread = new Thread(() =>
            {
                SetSynchronizationContext(this);
                foreach (var (callback, state) in _queue.GetConsumingEnumerable())
                {
                    callback(state);
                }
            }) { IsBackground = true, Name = "test context" };
            _thread.Start();
        }

        public int ThreadId => _thread.ManagedThreadId;

        public override void Post(SendOrPostCallback d, object? state) => _queue.Add((d, state));

        // The default Send would run the callback on the calling thread, which is not what the engine may rely on.
        public override void Send(SendOrPostCallback d, object? state) => throw new NotSupportedException("Send is not used.");

        public override SynchronizationContext CreateCopy() => this;

        /// <summary>Starts <paramref name="work"/> on this context's thread and waits (here) for it to finish.</summary>
        public void Run(Func<Task> work)
        {
            Task? task = null;
            using var started = new ManualResetEventSlim();
            Post(_ =>
            {
                try
                {
                    task = work();
                }
                finally
                {
                    started.Set();
                }
            }, null);
            started.Wait();
            Assert.True(Task.WhenAny(task!, Task.Delay(TimeSpan.FromSeconds(60))).GetAwaiter().GetResult() == task, "The sync did not finish.");
            task.GetAwaiter().GetResult();
        }

        public void Dispose()
        {
            _queue.CompleteAdding();
            _thread.Join();
            _queue.Dispose();
        }
    }

    private sealed class ThreadRecordingObserver(SynchronizationContext expected) : ISyncObserver
    {
        public ConcurrentQueue<(string Call, int Thread, bool OnContext)> Calls { get; } = new();
        public List<(string Source, Exception Error)> Failures { get; } = [];
        public Exception? RefuseWith { get; init; }

        private void Record(string call) =>
            Calls.Enqueue((call, Environment.CurrentManagedThreadId, SynchronizationContext.Current == expected));

        public Approval Approve(PlannedChange change)
        {
            Record(nameof(Approve));
            return RefuseWith is null ? Approval.Approved : throw RefuseWith;
        }

        public void Report(ObjectChange change) => Record(nameof(Report));
        public void Warn(string message, Remedy remedy) => Record(nameof(Warn));
        public void Verbose(string message) => Record(nameof(Verbose));
        public void Progress(int done, int total, string activity) => Record(nameof(Progress));

        public void Failed(string source, Exception error)
        {
            Record(nameof(Failed));
            Failures.Add((source, error));
        }
    }

    /// <summary>The real API, noting the thread each call is made from.</summary>
    private sealed class ThreadRecordingApi(IClusterApi inner) : IClusterApi
    {
        public ConcurrentQueue<int> Threads { get; } = new();

        private T Note<T>(T result)
        {
            Threads.Enqueue(Environment.CurrentManagedThreadId);
            return result;
        }

        public string Server => inner.Server;
        public string DefaultNamespace => inner.DefaultNamespace;

        public Task<JsonObject?> GetAsync(ResourceType type, string? @namespace, string name, CancellationToken cancellationToken) =>
            Note(inner.GetAsync(type, @namespace, name, cancellationToken));

        public Task<IReadOnlyList<JsonObject>> ListAsync(ResourceType type, string? @namespace, string labelSelector, CancellationToken cancellationToken) =>
            Note(inner.ListAsync(type, @namespace, labelSelector, cancellationToken));

        public Task<JsonObject> ApplyAsync(ResourceType type, JsonObject body, bool force, CancellationToken cancellationToken) =>
            Note(inner.ApplyAsync(type, body, force, cancellationToken));

        public Task<JsonObject> ApplyStatusAsync(ResourceType type, JsonObject body, CancellationToken cancellationToken) =>
            Note(inner.ApplyStatusAsync(type, body, cancellationToken));

        public Task<bool> DeleteAsync(ResourceType type, string? @namespace, string name, bool foreground, CancellationToken cancellationToken) =>
            Note(inner.DeleteAsync(type, @namespace, name, foreground, cancellationToken));

        public Task<IReadOnlyDictionary<string, string>> GetPreferredVersionsAsync(CancellationToken cancellationToken) =>
            Note(inner.GetPreferredVersionsAsync(cancellationToken));

        public Task<ProxiedResponse> GetThroughPodProxyAsync(string @namespace, string pod, int port, string path, CancellationToken cancellationToken) =>
            Note(inner.GetThroughPodProxyAsync(@namespace, pod, port, path, cancellationToken));

        public Task<ObjectList> ListWithVersionAsync(ResourceType type, string? @namespace, string? labelSelector, CancellationToken cancellationToken) =>
            Note(inner.ListWithVersionAsync(type, @namespace, labelSelector, cancellationToken));

        public IAsyncEnumerable<WatchEvent> WatchAsync(ResourceType type, string? @namespace, string resourceVersion, CancellationToken cancellationToken) =>
            Note(inner.WatchAsync(type, @namespace, resourceVersion, cancellationToken));

        public Task<JsonObject> CreateAsync(ResourceType type, JsonObject body, CancellationToken cancellationToken) =>
            Note(inner.CreateAsync(type, body, cancellationToken));

        public Task<JsonObject> ReplaceAsync(ResourceType type, JsonObject body, CancellationToken cancellationToken) =>
            Note(inner.ReplaceAsync(type, body, cancellationToken));

        public Task<JsonObject> SetFinalizersAsync(ResourceType type, string? @namespace, string name, IReadOnlyList<string> finalizers, string resourceVersion, CancellationToken cancellationToken) =>
            Note(inner.SetFinalizersAsync(type, @namespace, name, finalizers, resourceVersion, cancellationToken));

        public void Dispose() => inner.Dispose();
    }
}
