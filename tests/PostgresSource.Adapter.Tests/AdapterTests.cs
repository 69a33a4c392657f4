using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Npgsql;
using PostgresSource.TestReceivers;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Adapter.Tests;

[Collection(DatabaseCollection.Name)]
public sealed partial class AdapterTests(DatabaseFixture database, ITestOutputHelper output)
{
    private const string Password = "adapter-S3cret-pw";
    private const string Uid = "0f4c8c67-3c0b-4f39-9b0a-0b8a3e0d2f11";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(5) };

    /// <summary>A fresh database with an orders table, reached as a login role that has a password.</summary>
    private async Task<string> DatabaseAsync(bool mayCreateSchemas = false)
    {
        var db = await database.CreateDatabaseAsync("a");
        var role = "adapter_" + Guid.NewGuid().ToString("N")[..8];
        await TestSql.ExecuteAsync(db, $"CREATE ROLE {role} LOGIN PASSWORD '{Password}'; CREATE TABLE orders (id int PRIMARY KEY, item text, qty int); ALTER TABLE orders OWNER TO {role}; GRANT CREATE ON SCHEMA public TO {role}");
        if (mayCreateSchemas)
        {
            // Durable mode keeps its journal in a schema of its own.
            await TestSql.ExecuteAsync(db, $"GRANT CREATE ON DATABASE \"{new NpgsqlConnectionStringBuilder(db).Database}\" TO {role}");
        }
        return new NpgsqlConnectionStringBuilder(db) { Username = role, Password = Password }.ConnectionString;
    }

    private static Dictionary<string, string> Environment(string connection, Uri sink, int port) => new()
    {
        ["K_SINK"] = sink.ToString(),
        ["NAME"] = "shop",
        ["NAMESPACE"] = "retail",
        ["PGSOURCE_UID"] = Uid,
        ["PGSOURCE_TABLES"] = "orders",
        ["PGSOURCE_CONNECTION"] = connection,
        ["PGSOURCE_HTTP_PORT"] = port.ToString(),
        ["PGSOURCE_DELIVERY_BACKOFF_DELAY"] = "50ms",
        ["PGSOURCE_DELIVERY_MAX_BACKOFF_DELAY"] = "PT0.5S",
    };

    private async Task<HttpStatusCode?> StatusAsync(AdapterProcess adapter, string path)
    {
        try
        {
            using var response = await _http.GetAsync(new Uri(adapter.BaseUrl, path));
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    private async Task WaitForStatusAsync(AdapterProcess adapter, string path, HttpStatusCode expected)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (await StatusAsync(adapter, path) != expected)
        {
            Assert.False(adapter.HasExited, "The adapter exited:\n" + string.Join("\n", adapter.Stdout.Concat(adapter.Stderr)));
            Assert.True(DateTime.UtcNow < deadline, $"{path} never answered {expected}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task ProbesArrivingWhileTheHealthPortOpensDoNotCrashTheAdapter()
    {
        // Kubelet probes a starting pod at once; .NET's HttpListener crashed when a client connected during Start().
        var connection = await DatabaseAsync();
        await using var receiver = await CloudEventReceiver.StartAsync();
        await using var adapter = AdapterProcess.Start(Environment(connection, receiver.Url, AdapterProcess.FreePort()));
        using var probing = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var answered = 0;
        while (answered < 20 && !probing.IsCancellationRequested)
        {
            Assert.False(adapter.HasExited, "The adapter exited:\n" + string.Join("\n", adapter.Stdout.Concat(adapter.Stderr)));
            var probes = Enumerable.Range(0, 8).Select(_ => StatusAsync(adapter, "healthz")).ToList();
            answered += (await Task.WhenAll(probes)).Count(s => s == HttpStatusCode.OK);
        }
        Assert.True(answered >= 20, $"only {answered} probes were answered");

        // Not a GET, or not HTTP: 400, and the server goes on answering.
        using (var client = new System.Net.Sockets.TcpClient())
        {
            await client.ConnectAsync("127.0.0.1", adapter.Port);
            var stream = client.GetStream();
            await stream.WriteAsync("DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
            var reply = await new StreamReader(stream).ReadToEndAsync();
            Assert.StartsWith("HTTP/1.1 400 ", reply);
        }
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(adapter, "nowhere"));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(adapter, "healthz"));
    }

    [Fact]
    public async Task RunsFromTheEnvironmentServesHealthReadinessAndMetricsDeliversAndExitsZeroOnSigterm()
    {
        var connection = await DatabaseAsync();
        await using var receiver = await CloudEventReceiver.StartAsync();
        var environment = Environment(connection, receiver.Url, AdapterProcess.FreePort());
        environment["K_CE_OVERRIDES"] = """{"extensions": {"team": "billing"}}""";
        environment["EVENT_SOURCE"] = "retail/shop-from-env";
        environment["PGSOURCE_CONTENT_MODE"] = "structured";
        await using var adapter = AdapterProcess.Start(environment);

        await WaitForStatusAsync(adapter, "healthz", HttpStatusCode.OK);
        await WaitForStatusAsync(adapter, "readyz", HttpStatusCode.OK);
        await adapter.WaitForLogAsync(l => l.GetProperty("msg").GetString() == "listening", Patience);
        var installed = adapter.Logs.Single(l => l.GetProperty("msg").GetString() == "installed database objects");
        Assert.Equal("postgressource_shop_0f4c8c67_3c0b_4f39_9b0a_0b8a3e0d2f11", installed.GetProperty("objectName").GetString());

        await TestSql.ExecuteAsync(connection, "INSERT INTO orders VALUES (1, 'a', 1), (2, 'b', 2); UPDATE orders SET qty = 3 WHERE id = 1");
        Assert.True(await receiver.WaitUntilAsync(r => r.Count == 3, Patience));
        Assert.All(receiver.Requests, r =>
        {
            Assert.True(r.Structured);
            Assert.Equal("retail/shop-from-env", r.Event!.Source!.OriginalString);
            Assert.Equal("billing", r.Event["team"]);
            Assert.Equal("public.orders", r.Event.Subject);
        });
        Assert.Equal(["INSERT", "INSERT", "UPDATE"], receiver.Requests.Select(r => (string)r.Event!["pgoperation"]!));

        var metrics = await _http.GetStringAsync(new Uri(adapter.BaseUrl, "metrics"));
        Assert.Contains("pgsource_events_received_total{source=\"retail/shop-from-env\",namespace=\"retail\",name=\"shop\"} 3", metrics);
        Assert.Contains("pgsource_events_delivered_total{source=\"retail/shop-from-env\",namespace=\"retail\",name=\"shop\"} 3", metrics);
        Assert.Contains("pgsource_events_failed_total{source=\"retail/shop-from-env\",namespace=\"retail\",name=\"shop\"} 0", metrics);
        Assert.Contains("pgsource_events_dead_lettered_total{source=\"retail/shop-from-env\",namespace=\"retail\",name=\"shop\"} 0", metrics);
        Assert.Contains("pgsource_events_retried_total{source=\"retail/shop-from-env\",namespace=\"retail\",name=\"shop\"} 0", metrics);
        Assert.Contains("pgsource_ready{source=\"retail/shop-from-env\",namespace=\"retail\",name=\"shop\"} 1", metrics);
        Assert.Contains("pgsource_sink_state{source=\"retail/shop-from-env\",namespace=\"retail\",name=\"shop\",state=\"up\"} 1", metrics);
        Assert.Contains("pgsource_sink_state{source=\"retail/shop-from-env\",namespace=\"retail\",name=\"shop\",state=\"down\"} 0", metrics);
        Assert.Contains("pgsource_sink_responses_total{source=\"retail/shop-from-env\",namespace=\"retail\",name=\"shop\",code=\"200\"} 3", metrics);
        Assert.Contains("pgsource_oldest_unacknowledged_seconds{source=\"retail/shop-from-env\",namespace=\"retail\",name=\"shop\"} 0", metrics);
        Assert.Contains("# TYPE pgsource_delivery_latency_seconds histogram", metrics);
        Assert.Contains("pgsource_delivery_latency_seconds_bucket{source=\"retail/shop-from-env\",namespace=\"retail\",name=\"shop\",le=\"+Inf\"} 3", metrics);
        Assert.Contains("pgsource_delivery_latency_seconds_count{source=\"retail/shop-from-env\",namespace=\"retail\",name=\"shop\"} 3", metrics);
        Assert.Matches(MetricLine(), metrics);
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(adapter, "nothing-here"));

        var clock = Stopwatch.StartNew();
        adapter.SendSigterm();
        Assert.Equal(0, await adapter.WaitForExitAsync(Patience));
        output.WriteLine($"exited {clock.ElapsedMilliseconds} ms after SIGTERM");
        var logs = adapter.Logs;
        Assert.All(logs, l =>
        {
            Assert.True(l.TryGetProperty("time", out _));
            Assert.True(l.TryGetProperty("level", out _));
            Assert.True(l.TryGetProperty("msg", out _));
        });
        var stopped = logs.Last();
        Assert.Equal("stopped", stopped.GetProperty("msg").GetString());
        Assert.Equal(3, stopped.GetProperty("delivered").GetInt64());
        Assert.DoesNotContain(Password, string.Join("\n", adapter.Stdout.Concat(adapter.Stderr)));
        Assert.Contains("********", logs.First().GetProperty("database").GetString());
        Assert.Empty(adapter.Stderr);
    }

    [Fact]
    public async Task SigtermDrainsDeliveriesInFlightBeforeExiting()
    {
        var connection = await DatabaseAsync();
        var outage = Stopwatch.StartNew();
        await using var receiver = await CloudEventReceiver.StartAsync(n => n <= 3 || outage.Elapsed < TimeSpan.FromSeconds(1.5) ? 503 : 200);
        var environment = Environment(connection, receiver.Url, AdapterProcess.FreePort());
        environment["PGSOURCE_DELIVERY_ATTEMPTS"] = "20";
        await using var adapter = AdapterProcess.Start(environment);
        await WaitForStatusAsync(adapter, "readyz", HttpStatusCode.OK);

        outage.Restart();
        await TestSql.ExecuteAsync(connection, "INSERT INTO orders SELECT g, 'x', g FROM generate_series(1, 5) g");
        Assert.True(await receiver.WaitUntilAsync(r => r.Count > 0, Patience));
        adapter.SendSigterm();
        Assert.Equal(0, await adapter.WaitForExitAsync(Patience));

        Assert.Equal(5, receiver.Accepted.Count);
        var stopped = adapter.Logs.Last();
        Assert.Equal(5, stopped.GetProperty("delivered").GetInt64());
        Assert.True(stopped.GetProperty("retried").GetInt64() > 0);
        Assert.Contains(adapter.Logs, l => l.GetProperty("msg").GetString()!.StartsWith("stopping", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("skip")]
    [InlineData("stop")]
    public async Task FailedAndDeadLetteredEventsAreLoggedWithTheirIds(string onUndeliverable)
    {
        var connection = await DatabaseAsync();
        await using var receiver = await CloudEventReceiver.StartAsync(_ => 400);
        await using var deadLetters = await CloudEventReceiver.StartAsync(n => n == 1 ? 200 : 400);
        var environment = Environment(connection, receiver.Url, AdapterProcess.FreePort());
        environment["PGSOURCE_DEAD_LETTER_SINK"] = deadLetters.Url.ToString();
        environment["PGSOURCE_ON_UNDELIVERABLE"] = onUndeliverable;
        await using var adapter = AdapterProcess.Start(environment);
        await WaitForStatusAsync(adapter, "readyz", HttpStatusCode.OK);

        await TestSql.ExecuteAsync(connection, "INSERT INTO orders VALUES (1, 'a', 1); INSERT INTO orders VALUES (2, 'b', 2)");
        var deadLettered = await adapter.WaitForLogAsync(l => l.GetProperty("msg").GetString() == "event sent to the dead-letter sink", Patience);
        Assert.Equal("warn", deadLettered.GetProperty("level").GetString());
        Assert.Equal(receiver.Requests[0].Event!.Id, deadLettered.GetProperty("id").GetString());
        if (onUndeliverable == "skip")
        {
            var skipped = await adapter.WaitForLogAsync(l => l.GetProperty("msg").GetString()!.StartsWith("event skipped", StringComparison.Ordinal), Patience);
            Assert.Equal("error", skipped.GetProperty("level").GetString());
            Assert.Equal(receiver.Requests[1].Event!.Id, skipped.GetProperty("id").GetString());
            Assert.Equal(400, skipped.GetProperty("statusCode").GetInt32());
            var metrics = await _http.GetStringAsync(new Uri(adapter.BaseUrl, "metrics"));
            Assert.Contains("pgsource_events_failed_total{source=\"retail/shop\",namespace=\"retail\",name=\"shop\"} 1", metrics);
            Assert.Contains("pgsource_events_skipped_total{source=\"retail/shop\",namespace=\"retail\",name=\"shop\"} 1", metrics);
            Assert.Contains("pgsource_events_dead_lettered_total{source=\"retail/shop\",namespace=\"retail\",name=\"shop\"} 1", metrics);
            Assert.Contains("pgsource_sink_state{source=\"retail/shop\",namespace=\"retail\",name=\"shop\",state=\"refusing\"} 1", metrics);
            Assert.Contains("pgsource_sink_responses_total{source=\"retail/shop\",namespace=\"retail\",name=\"shop\",code=\"400\"} 2", metrics);
            adapter.SendSigterm();
            Assert.Equal(0, await adapter.WaitForExitAsync(Patience));
        }
        else
        {
            // Stop (the default): exit code 3, the change named, nothing skipped.
            Assert.Equal(3, await adapter.WaitForExitAsync(Patience));
            var stopping = adapter.Logs.Single(l => l.GetProperty("msg").GetString()!.StartsWith("stopping: a change could not be delivered", StringComparison.Ordinal));
            Assert.Equal("error", stopping.GetProperty("level").GetString());
            Assert.Equal(receiver.Requests[1].Event!.Id, stopping.GetProperty("id").GetString());
            Assert.Equal(400, stopping.GetProperty("statusCode").GetInt32());
            Assert.DoesNotContain(adapter.Logs, l => l.GetProperty("msg").GetString()!.StartsWith("event skipped", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task NotReadyWhileTheDatabaseIsUnreachableYetLiveAndStoppable()
    {
        await using var receiver = await CloudEventReceiver.StartAsync();
        var unreachable = $"Host=127.0.0.1;Port={AdapterProcess.FreePort()};Username=u;Password={Password};Database=d;Timeout=2";
        var environment = Environment(unreachable, receiver.Url, AdapterProcess.FreePort());
        environment["PGSOURCE_INSTALL"] = "false";
        environment.Remove("PGSOURCE_TABLES");
        await using var adapter = AdapterProcess.Start(environment);

        await WaitForStatusAsync(adapter, "healthz", HttpStatusCode.OK);
        await adapter.WaitForLogAsync(l => l.GetProperty("msg").GetString()!.StartsWith("Cannot connect", StringComparison.Ordinal), Patience);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await StatusAsync(adapter, "readyz"));
        Assert.Contains("pgsource_ready{source=\"retail/shop\",namespace=\"retail\",name=\"shop\"} 0", await _http.GetStringAsync(new Uri(adapter.BaseUrl, "metrics")));
        adapter.SendSigterm();
        Assert.Equal(0, await adapter.WaitForExitAsync(Patience));
        Assert.DoesNotContain(Password, string.Join("\n", adapter.Stdout.Concat(adapter.Stderr)));
    }

    [Fact]
    public async Task TheConnectionComesFromTheSecretFileAndUninstallIsAOneShotAction()
    {
        var connection = await DatabaseAsync();
        var secret = Path.Combine(Path.GetTempPath(), "pgsource-secret-" + Guid.NewGuid().ToString("N"));
        var builder = new NpgsqlConnectionStringBuilder(connection);
        await File.WriteAllTextAsync(secret, $"postgres://{builder.Username}:{builder.Password}@{builder.Host}:{builder.Port}/{builder.Database}\n");
        try
        {
            await using var receiver = await CloudEventReceiver.StartAsync();
            var environment = Environment(connection, receiver.Url, AdapterProcess.FreePort());
            environment.Remove("PGSOURCE_CONNECTION");
            environment["PGSOURCE_CONNECTION_FILE"] = secret;
            await using (var adapter = AdapterProcess.Start(environment))
            {
                await WaitForStatusAsync(adapter, "readyz", HttpStatusCode.OK);
                adapter.SendSigterm();
                Assert.Equal(0, await adapter.WaitForExitAsync(Patience));
            }
            Assert.Equal(3, (await TestSql.SourceObjectsAsync(connection)).Count); // function, row trigger, TRUNCATE trigger

            // Uninstall needs neither a sink nor tables: one command, exit 0, nothing left behind.
            var uninstallEnvironment = new Dictionary<string, string>
            {
                ["NAME"] = "shop",
                ["NAMESPACE"] = "retail",
                ["PGSOURCE_UID"] = Uid,
                ["PGSOURCE_CONNECTION_FILE"] = secret,
            };
            await using (var uninstall = AdapterProcess.Start(uninstallEnvironment, "uninstall"))
            {
                Assert.Equal(0, await uninstall.WaitForExitAsync(Patience));
                Assert.Contains(uninstall.Logs, l => l.GetProperty("msg").GetString() == "uninstalled");
                Assert.DoesNotContain(Password, string.Join("\n", uninstall.Stdout));
            }
            Assert.Empty(await TestSql.SourceObjectsAsync(connection));

            uninstallEnvironment["PGSOURCE_ACTION"] = "uninstall";
            await using (var again = AdapterProcess.Start(uninstallEnvironment))
            {
                Assert.Equal(0, await again.WaitForExitAsync(Patience));
                Assert.Contains(again.Logs, l => l.GetProperty("msg").GetString() == "nothing to uninstall");
            }
        }
        finally
        {
            File.Delete(secret);
        }
    }

    [Fact]
    public async Task DurableWithSeveralDeliveriesInFlightDeliversEveryChangeAndNothingAgainAfterARestart()
    {
        var connection = await DatabaseAsync(mayCreateSchemas: true);
        await using var receiver = await CloudEventReceiver.StartAsync();
        var environment = Environment(connection, receiver.Url, AdapterProcess.FreePort());
        environment["PGSOURCE_MODE"] = "Durable";
        environment["PGSOURCE_MAX_IN_FLIGHT"] = "8";
        environment["PGSOURCE_POLL_INTERVAL"] = "20ms";
        await using (var adapter = AdapterProcess.Start(environment))
        {
            var listening = await adapter.WaitForLogAsync(l => l.GetProperty("msg").GetString() == "listening", Patience);
            Assert.Equal("8", listening.GetProperty("maxInFlight").ToString());
            Assert.Equal(20, listening.GetProperty("journalPollIntervalMs").GetDouble());
            await TestSql.ExecuteAsync(connection, "INSERT INTO orders SELECT g, 'x', g FROM generate_series(1, 300) g");
            Assert.True(await receiver.WaitUntilAsync(r => r.Select(x => x.Event!.Id).Distinct().Count() == 300, Patience));
            await Task.Delay(1000); // let the acknowledgements flush
            adapter.SendSigterm();
            Assert.Equal(0, await adapter.WaitForExitAsync(Patience));
        }
        var before = receiver.Requests.Count;
        Assert.Equal(300, before); // one request per change: no retries needed against a healthy receiver

        // A second run must not send them again: every change was acknowledged (in order) before the stop.
        environment["PGSOURCE_HTTP_PORT"] = AdapterProcess.FreePort().ToString();
        await using (var again = AdapterProcess.Start(environment))
        {
            await again.WaitForLogAsync(l => l.GetProperty("msg").GetString() == "listening", Patience);
            await TestSql.ExecuteAsync(connection, "INSERT INTO orders VALUES (301, 'y', 1)");
            Assert.True(await receiver.WaitUntilAsync(r => r.Count > before, Patience));
            await Task.Delay(500);
            again.SendSigterm();
            Assert.Equal(0, await again.WaitForExitAsync(Patience));
        }
        var after = receiver.Requests.Skip(before).Select(r => (string)r.Event!["pgoperation"]! + ":" + r.Event.Data).ToList();
        Assert.Single(after);
    }

    /// <summary>
    /// PGSOURCE_ACTION=backfill (as a Job would run it) records the request and exits 0; the running adapter then sends
    /// the table's rows as read events and keeps streaming live changes after them.
    /// </summary>
    [Fact]
    public async Task ABackfillRunAsksTheRunningAdapterToSendTheTableAgain()
    {
        var connection = await DatabaseAsync(mayCreateSchemas: true);
        await TestSql.ExecuteAsync(connection, "INSERT INTO orders SELECT g, 'old', g FROM generate_series(1, 50) g");
        await using var receiver = await CloudEventReceiver.StartAsync();
        var environment = Environment(connection, receiver.Url, AdapterProcess.FreePort());
        environment["PGSOURCE_MODE"] = "Durable";
        environment["PGSOURCE_POLL_INTERVAL"] = "20ms";
        await using var adapter = AdapterProcess.Start(environment);
        await adapter.WaitForLogAsync(l => l.GetProperty("msg").GetString() == "listening", Patience);

        var backfill = new Dictionary<string, string>(environment) { ["PGSOURCE_ACTION"] = "backfill", ["PGSOURCE_BACKFILL_TABLES"] = "orders" };
        backfill.Remove("K_SINK");
        await using (var request = AdapterProcess.Start(backfill))
        {
            Assert.Equal(0, await request.WaitForExitAsync(Patience));
            Assert.Contains(request.Logs, l => l.GetProperty("msg").GetString()!.StartsWith("backfill requested", StringComparison.Ordinal));
        }
        Assert.True(await receiver.WaitUntilAsync(r => r.Count(x => string.Equals((string?)x.Event?["pgoperation"], "read", StringComparison.OrdinalIgnoreCase)) == 50, Patience),
            string.Join(", ", receiver.Requests.Select(r => (string?)r.Event?["pgoperation"])));
        await TestSql.ExecuteAsync(connection, "INSERT INTO orders VALUES (51, 'new', 1)");
        Assert.True(await receiver.WaitUntilAsync(r => r.Any(x => string.Equals((string?)x.Event?["pgoperation"], "insert", StringComparison.OrdinalIgnoreCase)), Patience));
        adapter.SendSigterm();
        Assert.Equal(0, await adapter.WaitForExitAsync(Patience));

        // A table the source does not capture is a configuration error (exit 2), and nothing is requested.
        backfill["PGSOURCE_BACKFILL_TABLES"] = "payments";
        await using var wrong = AdapterProcess.Start(backfill);
        Assert.Equal(2, await wrong.WaitForExitAsync(Patience));
        Assert.Contains("PGSOURCE_BACKFILL_TABLES", string.Join("\n", wrong.Stdout.Concat(wrong.Stderr)));
    }

    public static TheoryData<string, string?, string> BadConfigurations => new()
    {
        { "NAME", null, "NAME" },
        { "K_SINK", null, "K_SINK" },
        { "K_SINK", "not a url", "K_SINK" },
        { "K_SINK", "ftp://example.com/", "K_SINK" },
        { "PGSOURCE_TABLES", null, "PGSOURCE_TABLES" },
        { "PGSOURCE_MODE", "Turbo", "PGSOURCE_MODE" },
        { "K_CE_OVERRIDES", "{\"extensions\": {\"Bad-Name\": \"x\"}}", "K_CE_OVERRIDES" },
        { "K_CE_OVERRIDES", "not json", "K_CE_OVERRIDES" },
        { "PGSOURCE_HTTP_PORT", "eighty", "PGSOURCE_HTTP_PORT" },
        { "PGSOURCE_MAX_IN_FLIGHT", "0", "PGSOURCE_MAX_IN_FLIGHT" },
        { "PGSOURCE_DELIVERY_ATTEMPTS", "0", "PGSOURCE_DELIVERY_ATTEMPTS" },
        { "PGSOURCE_CONTENT_MODE", "xml", "PGSOURCE_CONTENT_MODE" },
        { "PGSOURCE_INSTALL", "maybe", "PGSOURCE_INSTALL" },
        { "PGSOURCE_CA_FILE", "/no/such/ca.pem", "PGSOURCE_CA_FILE" },
        { "K_CA_CERTS", "not a certificate", "K_CA_CERTS" },
        { "K_CA_CERTS", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----", "K_CA_CERTS" },
        { "PGSOURCE_DEAD_LETTER_SINK_CA_CERTS", "not a certificate", "PGSOURCE_DEAD_LETTER_SINK_CA_CERTS" },
        { "K_AUDIENCE", "broker-audience", "K_AUDIENCE" },
        { "PGSOURCE_SINK_TOKEN_FILE", "/no/such/token", "PGSOURCE_SINK_TOKEN_FILE" },
        { "PGSOURCE_CONNECTION", null, "PGSOURCE_CONNECTION" },
        { "PGSOURCE_CONNECTION", "postgres://user:" + Password + "@host:notaport/db", "PGSOURCE_CONNECTION" },
        { "PGSOURCE_CONNECTION_FILE", "/no/such/secret", "PGSOURCE_CONNECTION_FILE" },
        { "PGSOURCE_UID", "not-a-uid", "PGSOURCE_UID" },
        { "PGSOURCE_DELIVERY_BACKOFF_DELAY", "soon", "PGSOURCE_DELIVERY_BACKOFF_DELAY" },
        { "PGSOURCE_POLL_INTERVAL", "0ms", "PGSOURCE_POLL_INTERVAL" },
        { "PGSOURCE_POLL_INTERVAL", "2m", "PGSOURCE_POLL_INTERVAL" },
        { "PGSOURCE_POLL_INTERVAL", "often", "PGSOURCE_POLL_INTERVAL" },
        { "PGSOURCE_ORDERING", "sideways", "PGSOURCE_ORDERING" },
        { "PGSOURCE_ON_UNDELIVERABLE", "maybe", "PGSOURCE_ON_UNDELIVERABLE" },
        { "PGSOURCE_DELIVERY_MAX_RETRY_TIME", "soon", "PGSOURCE_DELIVERY_MAX_RETRY_TIME" },
        { "EVENT_SOURCE", "http://[", "EVENT_SOURCE" },
        { "PGSOURCE_DELIVERY_BACKOFF_DELAY", "1m", "PGSOURCE_DELIVERY_MAX_BACKOFF_DELAY" },
    };

    [Theory]
    [MemberData(nameof(BadConfigurations))]
    public async Task BadOrMissingConfigurationIsOneLineOnStderrNamingTheVariableAndExitsNonZero(string variable, string? value, string named)
    {
        var environment = Environment($"Host=127.0.0.1;Username=u;Password={Password};Database=d", new Uri("http://127.0.0.1:9/"), AdapterProcess.FreePort());
        if (value is null)
        {
            environment.Remove(variable);
        }
        else
        {
            environment[variable] = value;
        }
        if (variable == "PGSOURCE_CONNECTION_FILE")
        {
            environment.Remove("PGSOURCE_CONNECTION");
        }
        await using var adapter = AdapterProcess.Start(environment);
        var exit = await adapter.WaitForExitAsync(Patience);

        Assert.Equal(2, exit);
        var line = Assert.Single(adapter.Stderr);
        Assert.StartsWith($"pgsource-adapter: configuration error: {named}:", line);
        Assert.Empty(adapter.Stdout);
        Assert.DoesNotContain(Password, line);
        if (variable.EndsWith("_CA_CERTS", StringComparison.Ordinal))
        {
            // What is wrong with the PEM, never the PEM itself.
            Assert.All(value!.Split('\n').Where(part => !part.StartsWith("-----", StringComparison.Ordinal)), part => Assert.DoesNotContain(part, line));
        }
        output.WriteLine(line);
    }

    [GeneratedRegex(@"^pgsource_delivery_latency_seconds_bucket\{source=""[^""]+"",namespace=""retail"",name=""shop"",le=""0\.005""\} \d+$", RegexOptions.Multiline)]
    private static partial Regex MetricLine();
}
