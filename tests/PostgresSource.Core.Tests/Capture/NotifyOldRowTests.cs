using PostgresSource.Core.Capture;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Sources;
using PostgresSource.TestSupport;

namespace PostgresSource.Core.Tests.Capture;

/// <summary>Notify's UPDATE events carry the row before the update within NOTIFY's size, and say so when it did not fit.</summary>
[Collection(DatabaseCollection.Name)]
public sealed class NotifyOldRowTests(DatabaseFixture database)
{
    [Fact]
    public async Task AnUpdateCarriesTheOldRowWhileBothFitAndIsMarkedWhenOnlyTheNewOneDoes()
    {
        var db = await database.CreateDatabaseAsync("nold");
        await TestSql.ExecuteAsync(db, "CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'draft'), (2, repeat('a', 4500))");
        var source = CaptureHarness.Source(CaptureMode.Notify, "notes");
        await CaptureHarness.InstallAsync(source, db);
        await using var capture = ChangeCaptureFactory.Create(source, ConnectionSettings.Parse(db));
        var taking = CaptureHarness.TakeAsync(capture, 3);
        await CaptureHarness.WaitUntilReadyAsync(capture);

        await TestSql.ExecuteAsync(db, "UPDATE notes SET body = 'final' WHERE id = 1");
        // 4,500 bytes before and after: either row fits one notification, both do not.
        await TestSql.ExecuteAsync(db, "UPDATE notes SET body = repeat('b', 4500) WHERE id = 2");
        await TestSql.ExecuteAsync(db, "DELETE FROM notes WHERE id = 1");
        var changes = await taking;

        var small = CaptureHarness.Payload(changes[0]);
        Assert.Equal("final", small.GetProperty("data").GetProperty("body").GetString());
        Assert.Equal("draft", small.GetProperty("old").GetProperty("body").GetString());
        Assert.False(small.TryGetProperty("oldOmitted", out _));

        var large = CaptureHarness.Payload(changes[1]);
        Assert.Equal(new string('b', 4500), large.GetProperty("data").GetProperty("body").GetString());
        Assert.False(large.TryGetProperty("old", out _));
        Assert.True(large.GetProperty("oldOmitted").GetBoolean());
        Assert.False(changes[1].Truncated);

        // DELETE keeps the seed's meaning: "data" is the row deleted, and there is no "old".
        var deleted = CaptureHarness.Payload(changes[2]);
        Assert.Equal("final", deleted.GetProperty("data").GetProperty("body").GetString());
        Assert.False(deleted.TryGetProperty("old", out _));
    }
}
