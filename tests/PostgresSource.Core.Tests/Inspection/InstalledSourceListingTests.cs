using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture.Logical;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Tests.Capture;
using PostgresSource.TestSupport;

namespace PostgresSource.Core.Tests.Inspection;

/// <summary>TriggerInspector sees sources in every mode: Notify triggers, Durable journals, Logical publications and slots.</summary>
[Collection(DatabaseCollection.Name)]
public sealed class InstalledSourceListingTests(DatabaseFixture database)
{
    [Fact]
    public async Task ListsEveryModeWithItsDetailsAndNothingAfterUninstall()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, """
            CREATE TABLE notified (id int PRIMARY KEY);
            CREATE TABLE journaled (id int PRIMARY KEY);
            CREATE SCHEMA "Sales Dept";
            CREATE TABLE "Sales Dept"."Replicated Orders" (id int PRIMARY KEY, note text);
            """);
        var connection = ConnectionSettings.Parse(db);
        var notify = CaptureHarness.Source(CaptureMode.Notify, "notified");
        var durable = CaptureHarness.Source(CaptureMode.Durable, "journaled");
        var logical = CaptureHarness.Source(CaptureMode.Logical, "\"Sales Dept\".\"Replicated Orders\"");
        foreach (var source in new[] { notify, durable, logical })
        {
            await CaptureHarness.InstallAsync(source, db);
        }
        await TestSql.ExecuteAsync(db, """
            INSERT INTO journaled SELECT generate_series(1, 3);
            INSERT INTO "Sales Dept"."Replicated Orders" SELECT g, repeat('x', 1000) FROM generate_series(1, 50) g;
            """);

        var all = await TriggerInspector.ListAsync(connection);
        Assert.Equal(3, all.Count);

        var n = Assert.Single(all, r => r.ObjectName == notify.DatabaseObjectName);
        Assert.Equal((CaptureMode.Notify, "Notify", "public", "notified"), (n.Mode, n.Flavor, n.TableSchema, n.Table));
        Assert.True(n.FunctionPresent && n.TriggerPresent && n.TriggerEnabled);
        Assert.Null(n.JournalBacklog);
        Assert.Null(n.Slot);

        var d = Assert.Single(all, r => r.ObjectName == durable.DatabaseObjectName);
        Assert.Equal((CaptureMode.Durable, "Durable", "public", "journaled"), (d.Mode, d.Flavor, d.TableSchema, d.Table));
        Assert.Equal(durable.Name, d.SourceName);
        Assert.Equal(durable.Uid, d.Uid);
        Assert.Equal(durable.DatabaseObjectName, d.FunctionSchema);
        Assert.True(d.FunctionPresent && d.TriggerPresent && d.TriggerEnabled);
        Assert.Equal(["INSERT", "UPDATE", "DELETE", "TRUNCATE"], d.Operations);
        Assert.Equal(3, d.JournalBacklog);
        Assert.Null(d.Slot);

        var l = Assert.Single(all, r => r.ObjectName == logical.DatabaseObjectName);
        Assert.Equal((CaptureMode.Logical, "Logical", "Sales Dept", "Replicated Orders"), (l.Mode, l.Flavor, l.TableSchema, l.Table));
        Assert.Equal(logical.Name, l.SourceName);
        Assert.False(l.FunctionPresent || l.TriggerPresent);
        Assert.True(l.TriggerEnabled);
        Assert.Equal(["INSERT", "UPDATE", "DELETE", "TRUNCATE"], l.Operations);
        Assert.NotNull(l.Slot);
        Assert.False(l.Slot.Active);
        Assert.NotNull(l.Slot.ConfirmedFlushLsn);
        // 50 rows of 1 kB were written after the slot was made: the server keeps at least that much WAL for it.
        Assert.True(l.Slot.RetainedWalBytes >= 50_000, $"retained {l.Slot.RetainedWalBytes} bytes");

        // While a listener streams from the slot, it is active.
        await using (var capture = new LogicalCapture(logical, connection, Logical.LogicalCaptureTests.Fast))
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await using var stream = capture.ReadAllAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);
            Assert.True(await stream.MoveNextAsync());
            var streaming = Assert.Single(await TriggerInspector.ListAsync(connection), r => r.Mode == CaptureMode.Logical);
            Assert.True(streaming.Slot!.Active);
        }

        foreach (var source in new[] { notify, durable, logical })
        {
            await CaptureHarness.UninstallAsync(source, db);
        }
        Assert.Empty(await TriggerInspector.ListAsync(connection));
    }

    [Fact]
    public async Task ForASourceEveryTableItNamesHasARowInItsMode()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, "CREATE TABLE captured (id int PRIMARY KEY); CREATE TABLE added_later (id int PRIMARY KEY); INSERT INTO captured VALUES (0)");
        var connection = ConnectionSettings.Parse(db);
        var durable = CaptureHarness.Source(CaptureMode.Durable, "captured");
        await CaptureHarness.InstallAsync(durable, db);
        await TestSql.ExecuteAsync(db, "INSERT INTO captured VALUES (1), (2)");

        var rows = await TriggerInspector.ForSourceAsync(durable with { Tables = [TableName.Parse("captured"), TableName.Parse("added_later")] }, connection);
        Assert.Equal(2, rows.Count);
        Assert.All(rows, r =>
        {
            Assert.Equal(CaptureMode.Durable, r.Mode);
            Assert.Equal(2, r.JournalBacklog);
            Assert.True(r.FunctionPresent);
        });
        Assert.True(Assert.Single(rows, r => r.Table == "captured").TriggerPresent);
        Assert.False(Assert.Single(rows, r => r.Table == "added_later").TriggerPresent);

        // Not installed at all: the rows say so in the source's own mode.
        var logical = CaptureHarness.Source(CaptureMode.Logical, "captured");
        var missing = Assert.Single(await TriggerInspector.ForSourceAsync(logical, connection));
        Assert.Equal((CaptureMode.Logical, "none", false), (missing.Mode, missing.Flavor, missing.TriggerEnabled));
        Assert.Null(missing.Slot);
    }
}
