using System.Collections;
using System.Diagnostics;
using System.Management.Automation;
using System.Net;
using System.Net.Sockets;
using System.Xml.Linq;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.PowerShell.Tests;

/// <summary>Start-PgSourceListener through the built module, as a user or a Pester test runs it.</summary>
[Collection(DatabaseCollection.Name)]
public sealed class StartPgSourceListenerTests(DatabaseFixture database, ITestOutputHelper output)
{
    private const string Uid = "d049318d-72c6-45e3-b8be-b0d4a38e82ad";
    private const string Install = "$s = New-PgSource -Name shop -Uid $uid -Table orders -ConnectionString $cs | Install-PgSourceTrigger -PassThru -Confirm:$false";

    private async Task<(string Db, PowerShellSession Ps)> PrepareAsync()
    {
        var db = await database.CreateDatabaseAsync("ps");
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY, item text, qty int, tags text[])");
        var ps = PowerShellSession.Open();
        var installed = ps.Run(Install, new Hashtable { ["cs"] = db, ["uid"] = Uid });
        Assert.Empty(installed.Errors);
        Assert.Null(installed.Terminating);
        return (db, ps);
    }

    /// <summary>Waits until a listener connection has run LISTEN in the database (or has gone, with <paramref name="present"/> false).</summary>
    private static async Task WaitForListenerAsync(string db, bool present = true, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            var count = await TestSql.ScalarAsync<long>(db,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'PostgresSource listener' AND query LIKE 'LISTEN%'");
            if ((count > 0) == present)
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(present ? "The listener never LISTENed." : "The listener connection is still open.");
            }
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task MaxEventsReturnsTheExpectedEventObjects()
    {
        var (db, ps) = await PrepareAsync();
        using (ps)
        {
            using var shell = ps.Create("$s | Start-PgSourceListener -MaxEvents 3 -Timeout 30");
            var running = shell.BeginInvoke();
            await WaitForListenerAsync(db);
            await TestSql.ExecuteAsync(db, """
                INSERT INTO orders VALUES (1, 'apple', 5, '{red,green}');
                UPDATE orders SET qty = 7 WHERE id = 1;
                DELETE FROM orders WHERE id = 1;
                INSERT INTO orders VALUES (2, 'pear', 1, NULL);
                """);
            var events = shell.EndInvoke(running);
            Assert.Empty(shell.Streams.Error);
            Assert.Equal(3, events.Count);
            Assert.All(events, e => Assert.Equal("PostgresSource.PowerShell.PgSourceEvent", e.BaseObject.GetType().FullName));
            Assert.Equal(["INSERT", "UPDATE", "DELETE"], events.Select(e => (string)e.Properties["Operation"].Value));
            Assert.All(events, e =>
            {
                Assert.Equal("public.orders", e.Properties["Subject"].Value);
                Assert.Equal("default/shop", e.Properties["Source"].Value);
                Assert.Equal("dev.vaikas.postgres", e.Properties["Type"].Value);
                Assert.Equal("orders", e.Properties["Table"].Value);
                Assert.Equal("public", e.Properties["Schema"].Value);
                Assert.True(Guid.TryParse((string)e.Properties["Id"].Value, out _));
                Assert.NotNull(e.Properties["Time"].Value);
                Assert.Equal("application/json", e.Properties["DataContentType"].Value);
            });
            Assert.Equal(3, events.Select(e => e.Properties["Id"].Value).Distinct().Count());

            // The row is a PowerShell object: $e.Data.qty works, arrays are arrays, extensions are a hashtable.
            var probe = ps.Run("$ev[0].Data.qty; $ev[1].Data.qty; $ev[0].Data.item; $ev[0].Data.tags.Count; $ev[0].Data.tags[1]; $ev[2].Extensions['pgoperation']",
                new Hashtable { ["ev"] = events.Select(e => e.BaseObject).ToArray() });
            Assert.Null(probe.Terminating);
            Assert.Equal(5, probe.Output[0].BaseObject);
            Assert.Equal(7, probe.Output[1].BaseObject);
            Assert.Equal("apple", probe.Output[2].BaseObject);
            Assert.Equal(2, probe.Output[3].BaseObject);
            Assert.Equal("green", probe.Output[4].BaseObject);
            Assert.Equal("DELETE", probe.Output[5].BaseObject);

            // The listener's connection is closed once it has returned.
            await WaitForListenerAsync(db, present: false, TimeSpan.FromSeconds(5));
        }
    }

    [Fact]
    public async Task StopEndsTheListenerWithinASecondAndClosesItsConnection()
    {
        var (db, ps) = await PrepareAsync();
        using (ps)
        {
            using var shell = ps.Create("$s | Start-PgSourceListener");
            var running = shell.BeginInvoke();
            await WaitForListenerAsync(db);
            await TestSql.ExecuteAsync(db, "INSERT INTO orders VALUES (1, 'apple', 5, NULL)");
            await Task.Delay(200);

            var clock = Stopwatch.StartNew();
            shell.Stop();
            var stopped = clock.Elapsed;
            output.WriteLine($"Stop() returned after {stopped.TotalMilliseconds:0} ms");
            Assert.True(stopped < TimeSpan.FromSeconds(1), $"Stop() took {stopped}");
            Assert.True(running.IsCompleted);
            Assert.Equal(PSInvocationState.Stopped, shell.InvocationStateInfo.State);
            await WaitForListenerAsync(db, present: false, TimeSpan.FromSeconds(2));
        }
    }

    [Fact]
    public async Task StopWithADeliveryInFlightStillEndsWithinASecond()
    {
        var (db, ps) = await PrepareAsync();
        using (ps)
        using (var sink = new TinySink(_ => -1))
        {
            using var shell = ps.Create("$s | Start-PgSourceListener -Sink $sink", new Hashtable { ["sink"] = sink.Url });
            var running = shell.BeginInvoke();
            await WaitForListenerAsync(db);
            await TestSql.ExecuteAsync(db, "INSERT INTO orders SELECT g, 'x', g FROM generate_series(1, 20) g");
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (sink.Requests.Count == 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
            Assert.Single(sink.Requests);

            var clock = Stopwatch.StartNew();
            shell.Stop();
            output.WriteLine($"Stop() with a delivery in flight returned after {clock.ElapsedMilliseconds} ms");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"Stop() took {clock.Elapsed}");
            Assert.True(running.IsCompleted);
            await WaitForListenerAsync(db, present: false, TimeSpan.FromSeconds(2));
        }
    }

    [Fact]
    public async Task AnUnreachableDatabaseIsAConnectionErrorAtOnce()
    {
        using var ps = PowerShellSession.Open();
        var port = new TcpListener(IPAddress.Loopback, 0);
        port.Start();
        var free = ((IPEndPoint)port.LocalEndpoint).Port;
        port.Stop();
        var clock = Stopwatch.StartNew();
        var result = ps.Run("New-PgSource -Name shop -Table orders -ConnectionString $cs | Start-PgSourceListener -MaxEvents 1",
            new Hashtable { ["cs"] = $"Host=127.0.0.1;Port={free};Username=u;Password=hunter2-secret;Database=d;Timeout=3" });
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Empty(result.Output);
        var error = Assert.Single(result.Errors);
        Assert.Equal("PgSource.ConnectionFailed,PostgresSource.PowerShell.Cmdlets.StartPgSourceListenerCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ConnectionError, error.CategoryInfo.Category);
        Assert.DoesNotContain("hunter2-secret", PowerShellSession.AllText(result));

        var db = await database.CreateDatabaseAsync("ps");
        var wrongPassword = new Npgsql.NpgsqlConnectionStringBuilder(db) { Password = "wrong-hunter2" }.ConnectionString;
        var denied = ps.Run("New-PgSource -Name shop -Table orders -ConnectionString $cs | Start-PgSourceListener -MaxEvents 1",
            new Hashtable { ["cs"] = wrongPassword });
        var authError = Assert.Single(denied.Errors);
        Assert.Equal("PgSource.AuthenticationFailed,PostgresSource.PowerShell.Cmdlets.StartPgSourceListenerCommand", authError.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.AuthenticationError, authError.CategoryInfo.Category);
        Assert.DoesNotContain("wrong-hunter2", PowerShellSession.AllText(denied));
    }

    [Fact]
    public async Task TooFewEventsBeforeTheTimeoutIsAnOperationTimeoutError()
    {
        var (db, ps) = await PrepareAsync();
        using (ps)
        {
            var clock = Stopwatch.StartNew();
            var result = ps.Run("$s | Start-PgSourceListener -MaxEvents 2 -Timeout 1");
            Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
            Assert.Empty(result.Output);
            var error = Assert.Single(result.Errors);
            Assert.Equal("PgSource.OperationTimeout,PostgresSource.PowerShell.Cmdlets.StartPgSourceListenerCommand", error.FullyQualifiedErrorId);
            Assert.Equal(ErrorCategory.OperationTimeout, error.CategoryInfo.Category);
            Assert.Contains("0 of 2", error.Exception.Message);
            await WaitForListenerAsync(db, present: false, TimeSpan.FromSeconds(2));
        }
    }

    [Theory]
    [InlineData("Stop")]
    [InlineData("Skip")]
    public async Task WithASinkEventsAreDeliveredAndAnUndeliverableOneIsAnErrorRecord(string onUndeliverable)
    {
        var (db, ps) = await PrepareAsync();
        using (ps)
        using (var sink = new TinySink(n => n == 2 ? 400 : 202))
        {
            using var shell = ps.Create($"$s | Start-PgSourceListener -Sink $sink -MaxEvents 3 -RetryDelay 00:00:00.05 -OnUndeliverable {onUndeliverable} -Verbose",
                new Hashtable { ["sink"] = sink.Url });
            var running = shell.BeginInvoke();
            await WaitForListenerAsync(db);
            await TestSql.ExecuteAsync(db, "INSERT INTO orders SELECT g, 'x', g FROM generate_series(1, 3) g");
            var results = shell.EndInvoke(running);

            Assert.Empty(results);
            // Stop (the default): the refused event ends the run; Skip: it is reported and the third is delivered.
            Assert.Equal(onUndeliverable == "Stop" ? 2 : 3, sink.Requests.Count);
            Assert.All(sink.Requests, r => Assert.Equal("1.0", r["ce-specversion"]));
            var error = Assert.Single(shell.Streams.Error);
            Assert.Equal(onUndeliverable == "Stop" ? "PgSource.DeliveryFailed,PostgresSource.PowerShell.Cmdlets.StartPgSourceListenerCommand"
                : "PgSource.ChangeSkipped,PostgresSource.PowerShell.Cmdlets.StartPgSourceListenerCommand", error.FullyQualifiedErrorId);
            var target = error.TargetObject;
            Assert.Equal("PostgresSource.PowerShell.PgSourceEvent", target.GetType().FullName);
            Assert.Equal(sink.Requests[1]["ce-id"], target.GetType().GetProperty("Id")!.GetValue(target));
            Assert.Contains("400", error.Exception.Message);
            Assert.Contains(sink.Requests[1]["ce-id"], error.Exception.Message);
            Assert.Contains(shell.Streams.Verbose, v => v.Message.Contains(onUndeliverable == "Stop" ? "delivered 1" : "delivered 2") && v.Message.Contains("failed 1"));
        }
    }

    [Fact]
    public void BadSinksAndReservedOverrideNamesAreInvalidArgumentErrors()
    {
        using var ps = PowerShellSession.Open();
        var vars = new Hashtable { ["cs"] = "Host=127.0.0.1;Port=1;Username=u;Database=d" };
        var badSink = ps.Run("New-PgSource -Name shop -Table orders -ConnectionString $cs | Start-PgSourceListener -Sink 'ftp://example.com/x' -MaxEvents 1", vars);
        var sinkError = Assert.Single(badSink.Errors);
        Assert.Equal("PgSource.InvalidSink,PostgresSource.PowerShell.Cmdlets.StartPgSourceListenerCommand", sinkError.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidArgument, sinkError.CategoryInfo.Category);

        var reserved = ps.Run("New-PgSource -Name shop -Table orders -ConnectionString $cs -CeOverride @{ source = 'x' } | Start-PgSourceListener -MaxEvents 1", vars);
        var overrideError = Assert.Single(reserved.Errors);
        Assert.Equal("PgSource.InvalidSource,PostgresSource.PowerShell.Cmdlets.StartPgSourceListenerCommand", overrideError.FullyQualifiedErrorId);
        Assert.Contains("'source'", overrideError.Exception.Message);
    }

    [Fact]
    public void HelpFragmentDescribesEveryParameter()
    {
        var path = Path.Combine(ModuleLayout.RepositoryRoot, "module", "help", "Start-PgSourceListener.xml");
        var document = XDocument.Load(path);
        XNamespace command = "http://schemas.microsoft.com/maml/dev/command/2004/10";
        XNamespace maml = "http://schemas.microsoft.com/maml/2004/10";
        Assert.Equal(command + "command", document.Root!.Name);
        var documented = document.Root.Element(command + "parameters")!.Elements(command + "parameter")
            .Select(p => p.Element(maml + "name")!.Value).Order().ToList();
        Assert.All(document.Root.Element(command + "parameters")!.Elements(command + "parameter"),
            p => Assert.False(string.IsNullOrWhiteSpace(p.Element(maml + "description")!.Value)));
        Assert.True(document.Root.Element(command + "examples")!.Elements(command + "example").Count() >= 2);

        using var ps = PowerShellSession.Open();
        var actual = ps.Run("(Get-Command Start-PgSourceListener).Parameters.Keys | Where-Object { $_ -notin [System.Management.Automation.PSCmdlet]::CommonParameters }")
            .Output.Select(o => o.ToString()).Order().ToList();
        Assert.Equal(actual, documented);
    }

    /// <summary>A minimal HTTP endpoint (no CloudEvents library) that records ce-* headers and answers by request number.</summary>
    private sealed class TinySink : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly Func<int, int> _answer;
        private int _count;

        public TinySink(Func<int, int> answer)
        {
            _answer = answer;
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            var port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            Url = new Uri($"http://127.0.0.1:{port}/");
            _listener.Prefixes.Add(Url.ToString());
            _listener.Start();
            _ = Task.Run(LoopAsync);
        }

        public Uri Url { get; }
        public List<Dictionary<string, string>> Requests { get; } = [];

        private async Task LoopAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception)
                {
                    return;
                }
                var headers = context.Request.Headers.AllKeys.Where(k => k is not null && k.StartsWith("ce-", StringComparison.OrdinalIgnoreCase))
                    .ToDictionary(k => k!.ToLowerInvariant(), k => context.Request.Headers[k]!);
                lock (Requests)
                {
                    Requests.Add(headers);
                }
                var status = _answer(Interlocked.Increment(ref _count));
                if (status < 0)
                {
                    continue; // never answer: the request stays open
                }
                context.Response.StatusCode = status;
                context.Response.Close();
            }
        }

        public void Dispose() => _listener.Close();
    }
}
