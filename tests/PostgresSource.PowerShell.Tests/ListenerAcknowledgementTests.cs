using System.Collections;
using System.Diagnostics;
using System.Management.Automation;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.PowerShell.Tests;

/// <summary>
/// Start-PgSourceListener on a Durable source and the acknowledgement rule: what the pipeline took is consumed
/// (also with Select-Object -First), what it did not take is not; one consumer per source (PgSource.SourceBusy,
/// -Standby); -Peek reads without consuming. Checked on the journal itself.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class ListenerAcknowledgementTests(DatabaseFixture database, ITestOutputHelper output)
{
    private const string Uid = "7a1f0c3e-5b2d-4e8a-9c61-0d2e4f6a8b10";
    private const string Define = "$s = New-PgSource -Name shop -Uid $uid -Table orders -Mode Durable -ConnectionString $cs";
    /// <summary>SingleActiveCapture.LockClass ("PGSR").</summary>
    private const long LockClass = 0x50475352;

    private sealed record Durable(string Db, PowerShellSession Ps, string ObjectName) : IDisposable
    {
        public Hashtable Vars => new() { ["cs"] = Db, ["uid"] = Uid };

        public Task<long> JournalCountAsync() => TestSql.ScalarAsync<long>(Db, $"SELECT count(*) FROM \"{ObjectName}\".journal");

        public void Dispose() => Ps.Dispose();
    }

    /// <summary>A Durable source installed on a fresh table, with rows 1..<paramref name="rows"/> already in its journal; $s is the source.</summary>
    private async Task<Durable> PrepareAsync(int rows)
    {
        var db = await database.CreateDatabaseAsync("ack");
        await TestSql.ExecuteAsync(db, "CREATE TABLE orders (id int PRIMARY KEY, item text)");
        var ps = PowerShellSession.Open(utility: true);
        var installed = ps.Run(Define + " | Install-PgSourceTrigger -PassThru -Confirm:$false", new Hashtable { ["cs"] = db, ["uid"] = Uid });
        Assert.Empty(installed.Errors);
        Assert.Null(installed.Terminating);
        var objectName = (string)ps.Run("$s.ObjectName").Output.Single().BaseObject;
        if (rows > 0)
        {
            await TestSql.ExecuteAsync(db, $"INSERT INTO orders SELECT g, 'item ' || g FROM generate_series(1, {rows}) g ORDER BY g");
        }
        var durable = new Durable(db, ps, objectName);
        Assert.Equal(rows, await durable.JournalCountAsync());
        return durable;
    }

    private static int RowId(PSObject e) => (int)((PSObject)e.Properties["Data"].Value).Properties["id"].Value;

    private static List<int> RowIds(IEnumerable<PSObject> events) => events.Select(RowId).ToList();

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Gave up waiting for {what}.");
            }
            await Task.Delay(50);
        }
    }

    /// <summary>The server process holding the source's single-active lock, or 0.</summary>
    private static Task<int> LockHolderAsync(Durable source) => TestSql.ScalarAsync<int>(source.Db, """
        SELECT l.pid FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
          AND l.classid = @class::oid AND l.objid = (hashtext(@name)::bigint & 4294967295)::oid
        """, ("class", LockClass), ("name", source.ObjectName));

    [Fact]
    public async Task SelectFirstConsumesExactlyTheEventItTookAndTheNextListenerGoesOnWithoutRepeatOrGap()
    {
        using var source = await PrepareAsync(rows: 10);
        var first = source.Ps.Run("$s | Start-PgSourceListener -Timeout 30 | Select-Object -First 1");
        Assert.Null(first.Terminating);
        Assert.Empty(first.Errors);
        Assert.Equal([1], RowIds(first.Output));
        Assert.Equal($"{source.ObjectName}-1", first.Output[0].Properties["Id"].Value);
        // Taken by Select-Object, so acknowledged and removed before the command returned; the rows read ahead were not.
        Assert.Equal(9, await source.JournalCountAsync());

        var next = source.Ps.Run("$s | Start-PgSourceListener -MaxEvents 2 -Timeout 30");
        Assert.Null(next.Terminating);
        Assert.Empty(next.Errors);
        Assert.Equal([2, 3], RowIds(next.Output));
        Assert.Equal(7, await source.JournalCountAsync());
    }

    /// <summary>
    /// What the downstream commands did decides: Select-Object -First n takes n (the last one stops the pipeline as it is
    /// taken); a downstream error on an event means that event was not taken, whatever stopped the pipeline after.
    /// </summary>
    [Theory]
    [InlineData("Select-Object -First 3", 3)]
    [InlineData("ForEach-Object { throw 'the consumer failed' }", 0)]
    [InlineData("Select-Object -First 1 | ForEach-Object { throw 'the consumer failed' }", 0)]
    [InlineData("Select-Object -First 2 | ForEach-Object { if ($_.Data.id -eq 2) { throw 'the consumer failed' } }", 1)]
    public async Task WhatTheDownstreamCommandsTookIsConsumedAndNothingElse(string downstream, int taken)
    {
        using var source = await PrepareAsync(rows: 10);
        var run = source.Ps.Run($"$s | Start-PgSourceListener -Timeout 30 | {downstream}");
        if (downstream.Contains("throw", StringComparison.Ordinal))
        {
            Assert.Contains("the consumer failed", run.Terminating?.Message ?? string.Join(" ", run.Errors.Select(e => e.ToString())));
        }
        else
        {
            Assert.Null(run.Terminating);
            Assert.Equal(Enumerable.Range(1, taken), RowIds(run.Output));
        }
        Assert.Equal(10 - taken, await source.JournalCountAsync());

        var next = source.Ps.Run("$s | Start-PgSourceListener -MaxEvents 1 -Timeout 30");
        Assert.Empty(next.Errors);
        Assert.Equal([taken + 1], RowIds(next.Output));
    }

    [Fact]
    public async Task WithSeveralSourcesMaxEventsConsumesOnlyTheEventsWritten()
    {
        using var shop = await PrepareAsync(rows: 5);
        await TestSql.ExecuteAsync(shop.Db, "CREATE TABLE stock (id int PRIMARY KEY, item text)");
        var installed = shop.Ps.Run("$t = New-PgSource -Name stock -Uid $uid -Table stock -Mode Durable -ConnectionString $cs | Install-PgSourceTrigger -PassThru -Confirm:$false; $t.ObjectName", shop.Vars);
        Assert.Empty(installed.Errors);
        var stock = shop with { ObjectName = (string)installed.Output.Single().BaseObject };
        await TestSql.ExecuteAsync(shop.Db, "INSERT INTO stock SELECT g, 'item ' || g FROM generate_series(1, 5) g ORDER BY g");

        var both = shop.Ps.Run("$s, $t | Start-PgSourceListener -MaxEvents 3 -Timeout 30");
        Assert.Empty(both.Errors);
        Assert.Equal(3, both.Output.Count);
        var fromShop = RowIds(both.Output.Where(e => (string)e.Properties["Table"].Value == "orders"));
        var fromStock = RowIds(both.Output.Where(e => (string)e.Properties["Table"].Value == "stock"));
        // Each source's events came in order from its first row; what was read beyond the three written stays.
        Assert.Equal(Enumerable.Range(1, fromShop.Count), fromShop);
        Assert.Equal(Enumerable.Range(1, fromStock.Count), fromStock);
        Assert.Equal(5 - fromShop.Count, await shop.JournalCountAsync());
        Assert.Equal(5 - fromStock.Count, await stock.JournalCountAsync());

        var nextShop = shop.Ps.Run("$s | Start-PgSourceListener -MaxEvents 1 -Timeout 30");
        Assert.Equal([fromShop.Count + 1], RowIds(nextShop.Output));
        var nextStock = shop.Ps.Run("$t | Start-PgSourceListener -MaxEvents 1 -Timeout 30");
        Assert.Equal([fromStock.Count + 1], RowIds(nextStock.Output));
    }

    [Fact]
    public async Task StopInTheMiddleOfAStreamAcknowledgesExactlyWhatWasWritten()
    {
        const int rows = 300;
        using var source = await PrepareAsync(rows);
        using var shell = source.Ps.Create("$s | Start-PgSourceListener");
        var written = new PSDataCollection<PSObject>();
        // A slow consumer: each object takes a few milliseconds to be written, so the stop lands while events flow.
        written.DataAdded += (_, _) => Thread.Sleep(5);
        var running = shell.BeginInvoke<PSObject, PSObject>(null, written);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (written.Count < 20 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }
        Assert.True(written.Count >= 20, $"only {written.Count} events arrived");
        shell.Stop();
        Assert.True(running.IsCompleted);

        var ids = RowIds(written.ReadAll());
        output.WriteLine($"Stopped after {ids.Count} of {rows} events.");
        Assert.InRange(ids.Count, 20, rows - 1); // really stopped in the middle
        Assert.Equal(Enumerable.Range(1, ids.Count), ids);
        // Exactly the written ones were consumed: none of the events read ahead, none of the written ones kept.
        Assert.Equal(rows - ids.Count, await source.JournalCountAsync());

        var next = source.Ps.Run("$s | Start-PgSourceListener -MaxEvents 1 -Timeout 30");
        Assert.Empty(next.Errors);
        Assert.Equal([ids[^1] + 1], RowIds(next.Output));
    }

    [Fact]
    public async Task ABusySourceIsAnErrorNamingTheActiveListenerAndAStandbyTakesOverWhenItStops()
    {
        using var source = await PrepareAsync(rows: 10);
        // The active listener: another session, whose connection names itself, stuck on its first event.
        using var other = PowerShellSession.Open(utility: true);
        Assert.Empty(other.Run(Define, source.Vars).Errors);
        var holderConnection = source.Db + ";Application Name=holder-one";
        using var holder = other.Create("$s | Start-PgSourceListener -ConnectionString $hcs | ForEach-Object { Start-Sleep -Seconds 120 }",
            new Hashtable { ["hcs"] = holderConnection });
        var holding = holder.BeginInvoke();
        var holderPid = 0;
        await WaitUntilAsync(async () => (holderPid = await LockHolderAsync(source)) != 0, "the first listener to hold the lock");
        Assert.Equal("holder-one (active lock)",
            await TestSql.ScalarAsync<string>(source.Db, "SELECT application_name FROM pg_stat_activity WHERE pid = @pid", ("pid", holderPid)));

        // A second listener fails at once, says who is active, and consumes nothing.
        var clock = Stopwatch.StartNew();
        var busy = source.Ps.Run("$s | Start-PgSourceListener -MaxEvents 1 -Timeout 30");
        output.WriteLine($"PgSource.SourceBusy after {clock.ElapsedMilliseconds} ms");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        Assert.Empty(busy.Output);
        var error = Assert.Single(busy.Errors);
        Assert.Equal("PgSource.SourceBusy,PostgresSource.PowerShell.Cmdlets.StartPgSourceListenerCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.ResourceBusy, error.CategoryInfo.Category);
        Assert.Contains("holder-one (active lock)", error.Exception.Message);
        Assert.Contains($"pid {holderPid}", error.Exception.Message);
        Assert.Contains("-Standby", error.ErrorDetails.RecommendedAction);
        Assert.Equal("default/shop", error.TargetObject?.ToString());
        Assert.Equal(10, await source.JournalCountAsync());
        Assert.Equal(holderPid, await LockHolderAsync(source));

        // -Peek takes no lock: it reads beside the active listener, which keeps the lock, and leaves the journal as it was.
        var peek = source.Ps.Run("$s | Start-PgSourceListener -Peek -Timeout 30");
        Assert.Empty(peek.Errors);
        Assert.Equal(Enumerable.Range(1, 10), RowIds(peek.Output));
        Assert.Equal(10, await source.JournalCountAsync());
        Assert.Equal(holderPid, await LockHolderAsync(source));

        // -Standby waits (consuming nothing) and takes over when the active listener stops.
        using var standby = source.Ps.Create("$s | Start-PgSourceListener -Standby -MaxEvents 10 -Timeout 60 -Verbose");
        var waiting = standby.BeginInvoke();
        await Task.Delay(2000);
        Assert.False(waiting.IsCompleted);
        Assert.Equal(10, await source.JournalCountAsync());
        Assert.Equal(holderPid, await LockHolderAsync(source));

        holder.Stop();
        Assert.True(holding.IsCompleted);
        var events = standby.EndInvoke(waiting);
        Assert.Empty(standby.Streams.Error);
        // The stopped listener had taken nothing (its only event never got through ForEach-Object): all ten, in order.
        Assert.Equal(Enumerable.Range(1, 10), RowIds(events));
        Assert.Contains(standby.Streams.Verbose, v => v.Message.Contains("stands by") && v.Message.Contains("holder-one (active lock)"));
        Assert.Equal(0, await source.JournalCountAsync());
        Assert.Equal(0, await LockHolderAsync(source));
    }

    [Fact]
    public async Task PeekWritesTheWaitingChangesAndLeavesTheJournalUnchanged()
    {
        using var source = await PrepareAsync(rows: 10);
        var clock = Stopwatch.StartNew();
        var peek = source.Ps.Run("$s | Start-PgSourceListener -Peek");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed}: -Peek should end after the backlog");
        Assert.Null(peek.Terminating);
        Assert.Empty(peek.Errors);
        Assert.Equal(Enumerable.Range(1, 10), RowIds(peek.Output));
        Assert.Equal(Enumerable.Range(1, 10).Select(i => $"{source.ObjectName}-{i}"), peek.Output.Select(e => (string)e.Properties["Id"].Value));
        Assert.All(peek.Output, e => Assert.Equal("INSERT", e.Properties["Operation"].Value));
        Assert.Equal(10, await source.JournalCountAsync());

        var some = source.Ps.Run("$s | Start-PgSourceListener -Peek -MaxEvents 3");
        Assert.Equal([1, 2, 3], RowIds(some.Output));
        Assert.Equal(10, await source.JournalCountAsync());

        // The same changes, with the same ids, go to the listener that consumes them.
        var consumed = source.Ps.Run("$s | Start-PgSourceListener -MaxEvents 10 -Timeout 30");
        Assert.Equal(peek.Output.Select(e => e.Properties["Id"].Value), consumed.Output.Select(e => e.Properties["Id"].Value));
        Assert.Equal(0, await source.JournalCountAsync());
        var empty = source.Ps.Run("$s | Start-PgSourceListener -Peek");
        Assert.Empty(empty.Errors);
        Assert.Empty(empty.Output);
    }

    [Theory]
    [InlineData("Logical", "Get-PgSourceTrigger")]
    [InlineData("Notify", "Durable")]
    public void PeekOnAModeWithoutAReadableBacklogIsNotSupported(string mode, string hint)
    {
        using var ps = PowerShellSession.Open(utility: true);
        var result = ps.Run("New-PgSource -Name shop -Table orders -Mode $mode -ConnectionString 'Host=127.0.0.1;Port=1;Username=u;Database=d' | Start-PgSourceListener -Peek",
            new Hashtable { ["mode"] = mode });
        Assert.Empty(result.Output);
        var error = Assert.Single(result.Errors);
        Assert.Equal("PgSource.PeekNotSupported,PostgresSource.PowerShell.Cmdlets.StartPgSourceListenerCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.NotImplemented, error.CategoryInfo.Category);
        Assert.Contains(hint, error.Exception.Message);
        Assert.Contains("Get-PgSourceTrigger", error.ErrorDetails.RecommendedAction);
    }
}
