using System.Text.RegularExpressions;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Hosting;
using PostgresSource.Core.Sources;
using PostgresSource.Kubernetes;

namespace PostgresSource.Adapter.Tests;

/// <summary>The settings table is the adapter's whole environment contract: what it reads, what --help shows, what the Deployment writes.</summary>
public sealed class AdapterSettingsTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly string _pemFile = Path.GetTempFileName();
    private static readonly string CaPem = CreateCaPem();

    private static string CreateCaPem()
    {
        using var certificates = PostgresSource.TestReceivers.TestCertificates.Create();
        return certificates.AuthorityPem;
    }

    /// <summary>A run configuration that sets every variable the table has (so every row is read), connecting through the libpq variables.</summary>
    private Dictionary<string, string> FullEnvironment() => new()
    {
        ["PGSOURCE_ACTION"] = "run", ["NAME"] = "orders", ["NAMESPACE"] = "shop", ["PGSOURCE_UID"] = Guid.NewGuid().ToString(),
        ["PGSOURCE_TABLES"] = "public.orders", ["PGSOURCE_MODE"] = "Durable", ["PGSOURCE_EVENT_TYPE"] = "com.example.row",
        ["EVENT_SOURCE"] = "/shop/orders", ["K_CE_OVERRIDES"] = "{\"extensions\":{\"team\":\"a\"}}", ["NOTIFICATION_CHANNEL"] = "orders",
        ["PGSOURCE_INSTALL"] = "false", ["PGSOURCE_SNAPSHOT"] = "true", ["PGSOURCE_DB_ROOT_CERT"] = _pemFile,
        ["PGSOURCE_SINGLE_ACTIVE"] = "false", ["PGSOURCE_POLL_INTERVAL"] = "250ms",
        ["K_SINK"] = "http://127.0.0.1:9/", ["PGSOURCE_DEAD_LETTER_SINK"] = "http://127.0.0.1:9/dead", ["PGSOURCE_CONTENT_MODE"] = "structured",
        ["PGSOURCE_CA_FILE"] = _pemFile, ["K_CA_CERTS"] = CaPem, ["K_AUDIENCE"] = "broker-audience", ["PGSOURCE_SINK_TOKEN_FILE"] = _pemFile,
        ["PGSOURCE_DEAD_LETTER_SINK_CA_CERTS"] = CaPem, ["PGSOURCE_DEAD_LETTER_SINK_TOKEN_FILE"] = _pemFile, ["PGSOURCE_ON_UNDELIVERABLE"] = "skip", ["PGSOURCE_ORDERING"] = "key", ["PGSOURCE_MAX_IN_FLIGHT"] = "8",
        ["PGSOURCE_DELIVERY_ATTEMPTS"] = "5", ["PGSOURCE_DELIVERY_MAX_RETRY_TIME"] = "PT2M", ["PGSOURCE_DELIVERY_TIMEOUT"] = "10s",
        ["PGSOURCE_DELIVERY_BACKOFF_DELAY"] = "100ms", ["PGSOURCE_DELIVERY_MAX_BACKOFF_DELAY"] = "5s", ["PGSOURCE_QUEUE_CAPACITY"] = "50",
        ["PGSOURCE_DRAIN_TIMEOUT"] = "3s", ["PGSOURCE_HTTP_PORT"] = "8181",
        // A Secret file's trailing newline and stray spaces: trimmed, as every variable is.
        ["PGHOST"] = " db.example\n", ["PGDATABASE"] = "shop", ["PGUSER"] = "app", ["PGSSLMODE"] = " require ",
    };

    [Fact]
    public async Task HelpListsEveryVariableTheAdapterReads()
    {
        var read = new HashSet<string>();
        var environment = FullEnvironment();
        var config = AdapterConfig.Load([], name =>
        {
            read.Add(name);
            return environment.GetValueOrDefault(name);
        });
        // The values arrived where they belong (a row read but unused would pass the name checks below).
        Assert.Equal(AdapterAction.Run, config.Action);
        Assert.Equal(8, config.Delivery.MaxConcurrentDeliveries);
        Assert.Equal(DeliveryOrder.Key, config.Delivery.EffectiveOrdering);
        Assert.Equal(TimeSpan.FromMilliseconds(250), config.Listener.Capture.JournalPollInterval);
        Assert.Equal(5, config.Listener.Delivery.MaxAttempts);
        Assert.Equal(8181, config.HttpPort);
        Assert.Equal(CaPem, config.Listener.Http.CaCertificates);
        Assert.Equal(_pemFile, config.Listener.Http.TokenFile);
        Assert.Equal(CaPem, config.Listener.DeadLetterHttp!.CaCertificates);
        // Trimmed: untrimmed, PGSSLMODE " require " would have been a configuration error and the host "db.example\n" wrong.
        Assert.Equal("db.example", config.Connection.Host);

        // Every row of the table is read, and nothing is read that the table (or libpq's list) does not name.
        var rows = AdapterSettings.All.Select(s => s.Variable).ToHashSet();
        Assert.Subset(read, rows);
        Assert.Contains("PGSOURCE_ON_UNDELIVERABLE", read);
        Assert.Empty(read.Except(rows).Except(PostgresSource.Core.Database.ConnectionResolver.LibpqVariableNames));

        await using var adapter = AdapterProcess.Start(new Dictionary<string, string>(), "--help");
        Assert.Equal(0, await adapter.WaitForExitAsync(Patience));
        var help = string.Join("\n", adapter.Stdout);
        Assert.All(read, variable => Assert.Matches($"\\b{variable}\\b", help));
        // Defaults and ranges come from the same rows.
        Assert.Matches(@"PGSOURCE_POLL_INTERVAL \(1ms to 1m; default 100ms\)", help);
        Assert.Matches(@"PGSOURCE_HTTP_PORT \(1 to 65535; default 8080\)", help);
    }

    [Fact]
    public void TheAdapterPageDocumentsEveryVariable()
    {
        var page = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "adapter.md"));
        Assert.All(AdapterSettings.All, setting => Assert.Contains($"`{setting.Variable}`", page));
    }

    [Fact]
    public void TheAdapterReadsNoVariableOutsideTheTable()
    {
        // Program and AdapterConfig reach the environment only through AdapterSettings rows.
        var folder = Path.Combine(RepositoryRoot(), "src", "PostgresSource.Adapter");
        var literals = Directory.EnumerateFiles(folder, "*.cs")
            .SelectMany(file => Regex.Matches(File.ReadAllText(file), "GetEnvironmentVariable\\(\"([A-Z_]+)\"").Select(m => m.Groups[1].Value))
            .ToList();
        Assert.Empty(literals);
    }

    [Fact]
    public void TheDeploymentWritesOnlyVariablesTheAdapterReadsAndTheAdapterReadsThemBack()
    {
        var source = new SourceDefinition
        {
            Name = "orders", Namespace = "shop", Uid = Guid.NewGuid().ToString(), Mode = CaptureMode.Durable, EventType = "com.example.row",
            Tables = [new TableName("public", "orders")],
            Delivery = new SourceDelivery
            {
                OnUndeliverable = UndeliverableAction.Skip, Ordering = DeliveryOrder.Key, MaxInFlight = 6, Retry = 4, RetryTime = TimeSpan.FromMinutes(3),
            },
        }.Validate();
        var env = SourceObjects.AdapterEnvironment(source, new SinkResolver.Resolution("https://broker.example/shop/default", null, CaPem, "broker-audience"),
            new SinkResolver.Resolution("http://dead.example/", null, CaPem, "dead-audience"));
        var rows = AdapterSettings.All.Select(s => s.Variable).ToHashSet();
        Assert.All(env, variable => Assert.Contains(variable.Name, rows));

        // What the writer formats, the reader parses to the same values.
        var values = env.Where(e => e.Value is not null).ToDictionary(e => e.Name, e => e.Value);
        values["PGSOURCE_CONNECTION"] = "Host=db.example;Database=shop;Username=app";
        // The projected token files exist only in the pod.
        Assert.Equal(SourceObjects.SinkTokenFile, values["PGSOURCE_SINK_TOKEN_FILE"]);
        Assert.Equal(SourceObjects.DeadLetterSinkTokenFile, values["PGSOURCE_DEAD_LETTER_SINK_TOKEN_FILE"]);
        values["PGSOURCE_SINK_TOKEN_FILE"] = values["PGSOURCE_DEAD_LETTER_SINK_TOKEN_FILE"] = _pemFile;
        var config = AdapterConfig.Load([], name => values.GetValueOrDefault(name));
        Assert.Equal(source.Tables, config.Source.Tables);
        Assert.Equal(source.Uid, config.Source.Uid);
        Assert.Equal(DeliveryOrder.Key, config.Delivery.EffectiveOrdering);
        Assert.Equal(6, config.Delivery.MaxConcurrentDeliveries);
        Assert.Equal(UndeliverableAction.Skip, config.Delivery.OnUndeliverable);
        Assert.Equal(source.Delivery!.MaxAttempts, config.Listener.Delivery.MaxAttempts);
        Assert.Equal(TimeSpan.FromMinutes(3), config.Listener.Delivery.MaxRetryTime);
        Assert.Equal(new Uri("http://dead.example/"), config.Listener.DeadLetterSink);
        Assert.Equal(CaPem, config.Listener.Http.CaCertificates);
        Assert.Equal("broker-audience", values["K_AUDIENCE"]);
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "PostgresSource.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new DirectoryNotFoundException("PostgresSource.sln not found above the test folder.");
    }

    public void Dispose() => File.Delete(_pemFile);
}
