using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Database;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Listening;
using PostgresSource.Core.Sources;
using PostgresSource.TestSupport;

namespace PostgresSource.Core.Tests.Listener;

/// <summary>A fresh database with an installed source, and a listener running on it until disposed.</summary>
internal sealed class ListenerHarness : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();

    private ListenerHarness(string connectionString, SourceDefinition source, SourceListener listener, Task run)
    {
        ConnectionString = connectionString;
        Source = source;
        Listener = listener;
        Run = run;
        listener.Reported += r =>
        {
            lock (Reports)
            {
                Reports.Add(r);
            }
        };
    }

    public string ConnectionString { get; }
    public SourceDefinition Source { get; }
    public SourceListener Listener { get; }
    public Task Run { get; private set; }
    public List<ListenerReport> Reports { get; } = [];
    public ListenerStatistics Statistics => Listener.Statistics;

    public const string OrdersTable = "CREATE TABLE orders (id int PRIMARY KEY, item text, qty int)";

    /// <summary>Creates the database and table, installs the source, starts the listener and waits until it LISTENs.</summary>
    public static async Task<ListenerHarness> StartAsync(DatabaseFixture database, Func<SourceDefinition, IEventSink> sink,
        RetryPolicy? policy = null, IEventSink? deadLetter = null, ListenerOptions? options = null, string tableSql = OrdersTable,
        string table = "orders", IReadOnlyDictionary<string, string>? overrides = null, CaptureMode mode = CaptureMode.Notify,
        Func<IChangeCapture, IChangeCapture>? wrapCapture = null, Func<SourceDefinition, ListenerOptions>? optionsFor = null, CaptureOptions? captureOptions = null)
    {
        var db = await database.CreateDatabaseAsync("l");
        await TestSql.ExecuteAsync(db, tableSql);
        var source = new SourceDefinition
        {
            Name = "shop",
            Uid = Guid.NewGuid().ToString(),
            Tables = [TableName.Parse(table)],
            Mode = mode,
            Connection = ConnectionSettings.Parse(db),
            CeOverrideExtensions = overrides ?? new Dictionary<string, string>(),
        }.Validate();
        await using (var session = await SourceSchema.PlanInstallAsync(source, source.Connection!))
        {
            await session.ApplyAsync();
        }
        var capture = ChangeCaptureFactory.Create(source, source.Connection!,
            captureOptions ?? new CaptureOptions { JournalPollInterval = TimeSpan.FromMilliseconds(20), InitialReconnectDelay = TimeSpan.FromMilliseconds(100) });
        var listener = new SourceListener(source, wrapCapture is null ? capture : wrapCapture(capture),
            new EventDeliverer(sink(source), policy, deadLetter), optionsFor?.Invoke(source) ?? options);
        var harness = new ListenerHarness(db, source, listener, Task.CompletedTask);
        harness.Run = listener.RunAsync(harness._stop.Token);
        await harness.WaitReadyAsync();
        return harness;
    }

    /// <summary>Rows left in a Durable source's journal (unacknowledged changes).</summary>
    public Task<long> JournalRowsAsync() =>
        TestSql.ScalarAsync<long>(ConnectionString, $"SELECT count(*) FROM \"{Source.DatabaseObjectName}\".journal");

    public async Task WaitReadyAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!Listener.IsReady)
        {
            if (Run.IsCompleted)
            {
                await Run;
                throw new InvalidOperationException("The listener ended before it was ready.");
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The listener did not become ready.");
            }
            await Task.Delay(10);
        }
    }

    public static async Task<bool> EventuallyAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }
            await Task.Delay(20);
        }
        return true;
    }

    public IReadOnlyList<ListenerReport> ReportsOf(ListenerReportKind kind)
    {
        lock (Reports)
        {
            return Reports.Where(r => r.Kind == kind).ToList();
        }
    }

    /// <summary>Cancels and waits for the listener to finish draining.</summary>
    public async Task StopAsync()
    {
        _stop.Cancel();
        await Run;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try
        {
            await Run;
        }
        catch (Exception)
        {
            // Tests assert on the run themselves.
        }
        await Listener.DisposeAsync();
        _stop.Dispose();
    }
}
