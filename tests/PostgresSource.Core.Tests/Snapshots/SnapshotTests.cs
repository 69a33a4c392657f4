using PostgresSource.Core.Capture;
using PostgresSource.Core.Capture.Durable;
using PostgresSource.Core.Capture.Logical;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Tests.Capture;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Core.Tests.Snapshots;

[Collection(DatabaseCollection.Name)]
public sealed class SnapshotTests(DatabaseFixture database, ITestOutputHelper output)
{
    [Fact]
    public async Task DurableSnapshotInterruptedHalfwayResumesWithEveryRowOnceAndEveryChange()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, SnapshotScenario.Setup);
        var source = CaptureHarness.Source(CaptureMode.Durable, "items");
        var plan = await CaptureHarness.InstallAsync(source, db, new InstallOptions { Snapshot = true });
        Assert.Contains(plan, c => c.Kind == SchemaChangeKind.RequestSnapshot);

        await new SnapshotScenario(output).RunAsync(db, progress => new DurableCapture(source, ConnectionSettings.Parse(db),
            new ReliableCaptureOptions { SnapshotProgress = progress, SweepInterval = TimeSpan.FromMilliseconds(300), SnapshotChunkSize = 5000 }));

        Assert.Equal(0L, await TestSql.ScalarAsync<long>(db, $"SELECT count(*) FROM \"{source.DatabaseObjectName}\".journal"));
    }

    [Fact]
    public async Task LogicalSnapshotInterruptedHalfwayResumesWithEveryRowOnceAndEveryChange()
    {
        var db = await database.CreateDatabaseAsync();
        await TestSql.ExecuteAsync(db, SnapshotScenario.Setup);
        var source = CaptureHarness.Source(CaptureMode.Logical, "items");
        await CaptureHarness.InstallAsync(source, db);

        // Asked for by the capture rather than at install.
        await new SnapshotScenario(output).RunAsync(db, progress => new LogicalCapture(source, ConnectionSettings.Parse(db),
            LogicalTestsOptions.Fast with { Snapshot = true, SnapshotProgress = progress, SnapshotChunkSize = 5000 }));
    }
}

internal static class LogicalTestsOptions
{
    public static ReliableCaptureOptions Fast => Logical.LogicalCaptureTests.Fast;
}
