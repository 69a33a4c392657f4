using System.Diagnostics;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Database;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Listening;
using PostgresSource.Core.Sources;
using PostgresSource.TestSupport;

namespace PostgresSource.Demo;

/// <summary>
/// dotnet run --project examples/Demo [-- --sink URL] [--structured]
/// Starts a throwaway PostgreSQL, creates a table, installs a source, listens, writes inserts, updates
/// and deletes, prints the CloudEvents (and POSTs them to --sink), then removes everything.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        Uri? sinkUrl = null;
        var mode = EventContentMode.Binary;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--sink" when i + 1 < args.Length && Uri.TryCreate(args[i + 1], UriKind.Absolute, out var parsed):
                    sinkUrl = parsed;
                    i++;
                    break;
                case "--structured":
                    mode = EventContentMode.Structured;
                    break;
                case "-h" or "--help":
                    Console.WriteLine("usage: dotnet run --project examples/Demo [-- --sink http://host:port/path] [--structured]");
                    return 0;
                default:
                    Console.Error.WriteLine($"demo: unknown argument '{args[i]}' (try --help)");
                    return 2;
            }
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        try
        {
            await RunAsync(sinkUrl, mode, cancel.Token);
            return 0;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            Console.WriteLine("demo: interrupted; cleaned up.");
            return 130;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"demo: failed: {ex.Message}");
            return 1;
        }
    }

    private static async Task RunAsync(Uri? sinkUrl, EventContentMode mode, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        Console.WriteLine("1. Starting a throwaway PostgreSQL (PGSOURCE_TEST_CONNECTION, Docker, or the local server binaries)...");
        await using var server = await PostgresServer.StartAsync(cancellationToken);
        var database = await server.CreateDatabaseAsync("demo");
        var connection = ConnectionSettings.Parse(database);
        Console.WriteLine($"   PostgreSQL ({server.Kind}) ready: {connection.ToDisplayString()}");

        Console.WriteLine("2. Creating the sample table public.orders...");
        await TestSql.ExecuteAsync(database, "CREATE TABLE public.orders (id serial PRIMARY KEY, item text NOT NULL, qty int NOT NULL, placed_at timestamptz NOT NULL DEFAULT now())");

        var source = new SourceDefinition
        {
            Name = "demo-orders",
            Namespace = "default",
            Uid = Guid.NewGuid().ToString(),
            Tables = [TableName.Parse("public.orders")],
            Connection = connection,
        }.Validate();
        Console.WriteLine($"3. Installing source {source.EventSource} (Notify mode: function, trigger and channel {source.DatabaseObjectName})...");
        await using (var install = await SourceSchema.PlanInstallAsync(source, connection, cancellationToken: cancellationToken))
        {
            await install.ApplyAsync(cancellationToken);
        }

        var http = sinkUrl is null ? null : new HttpEventSink(sinkUrl, new HttpSinkOptions { ContentMode = mode });
        await using var listener = new SourceListener(source, ChangeCaptureFactory.Create(source, connection),
            new EventDeliverer(new DemoSink(http), new RetryPolicy { MaxAttempts = 3, InitialDelay = TimeSpan.FromMilliseconds(100) }));
        listener.Reported += report => Console.WriteLine($"   [{report.Kind}] {report.Message}");
        Console.WriteLine($"4. Listening and delivering to {listener.Deliverer.Sink.Description}...");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var run = listener.RunAsync(stop.Token);
        while (!listener.IsReady)
        {
            if (run.IsCompleted)
            {
                await run;
            }
            await Task.Delay(20, cancellationToken);
        }

        string[] statements =
        [
            "INSERT INTO public.orders (item, qty) VALUES ('espresso beans', 2)",
            "INSERT INTO public.orders (item, qty) VALUES ('oat milk', 6)",
            "INSERT INTO public.orders (item, qty) VALUES ('croissant', 12)",
            "UPDATE public.orders SET qty = qty + 1 WHERE item = 'espresso beans'",
            "DELETE FROM public.orders WHERE item = 'croissant'",
        ];
        Console.WriteLine("5. Writing sample changes:");
        foreach (var statement in statements)
        {
            Console.WriteLine($"   {statement};");
            await TestSql.ExecuteAsync(database, statement);
        }
        Console.WriteLine();

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (listener.Statistics.Finished < statements.Length && DateTime.UtcNow < deadline && !run.IsCompleted)
        {
            await Task.Delay(20, cancellationToken);
        }
        stop.Cancel();
        await run;
        Console.WriteLine();
        Console.WriteLine($"6. Done: {listener.Statistics}.");

        Console.WriteLine("7. Cleaning up: removing the source's database objects and the throwaway server...");
        await using (var uninstall = await SourceSchema.PlanUninstallAsync(source, connection, cancellationToken: CancellationToken.None))
        {
            await uninstall.ApplyAsync(CancellationToken.None);
        }
        if (listener.Statistics.Delivered + listener.Statistics.DeadLettered < statements.Length)
        {
            throw new InvalidOperationException($"only {listener.Statistics.Delivered} of {statements.Length} events were delivered.");
        }
        Console.WriteLine($"   Finished in {clock.Elapsed.TotalSeconds:0.0} s.");
    }
}
