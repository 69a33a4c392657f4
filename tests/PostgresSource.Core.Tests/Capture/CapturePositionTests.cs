using PostgresSource.Core.Capture;
using PostgresSource.Core.Capture.Durable;
using PostgresSource.Core.Capture.Logical;
using PostgresSource.Core.Capture.Snapshots;

namespace PostgresSource.Core.Tests.Capture;

/// <summary>A capture acknowledges only positions it issued: by their type, stamped by the issuing capture.</summary>
public sealed class CapturePositionTests
{
    private sealed record Foreign(long Sequence) : CapturePosition;

    private static CapturedChange Change(CapturePosition? position) => new()
    {
        Schema = "public",
        Table = "t",
        Operation = ChangeOperation.Insert,
        PayloadJson = "{}",
        Position = position,
    };

    [Fact]
    public void AnIssuerRecognisesItsOwnPositionsOnly()
    {
        var mine = new PositionIssuer();
        var gone = new PositionIssuer();
        Assert.Equal(7, mine.SequenceOf(Change(new JournalPosition(mine, 7, 42))));
        Assert.Equal(8, mine.SequenceOf(Change(new LogicalPosition(mine, 8, 100, 0))));
        Assert.Equal(9, mine.SequenceOf(Change(new ReadPosition(mine, 9))));
        // A capture replaced in a handover issued the same types: its numbers mean nothing here.
        Assert.Equal(0, mine.SequenceOf(Change(new JournalPosition(gone, 7, 42))));
        Assert.Equal(0, mine.SequenceOf(Change(new Foreign(7))));
        Assert.Equal(0, mine.SequenceOf(Change(null)));
    }

    [Fact]
    public void AChangeIsCopiedWithWithAndKeepsEveryOtherProperty()
    {
        var issuer = new PositionIssuer();
        var change = Change(null) with { Id = "s-1", TransactionId = "5", Lsn = "0/1", CommitTime = DateTimeOffset.UnixEpoch, Truncated = true };
        var positioned = change with { Position = new JournalPosition(issuer, 1, 1) };
        Assert.Null(change.Position);
        Assert.Equal(change, positioned with { Position = null });
    }
}
