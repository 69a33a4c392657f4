using PostgresSource.Core.Listening;

namespace PostgresSource.Adapter;

/// <summary>Reads the source's backlog every <see cref="Interval"/> for /metrics; a failed read keeps the last value.</summary>
internal sealed class BacklogWatch(BacklogProbe probe, TimeSpan interval) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public TimeSpan Interval { get; } = interval;

    /// <summary>The last backlog read, null before the first succeeded.</summary>
    public Backlog? Latest { get; private set; }

    public void Start() => _loop = Task.Run(async () =>
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                Latest = await probe.ReadAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception) when (!_stop.IsCancellationRequested)
            {
                // The database may be down: the capture reports that; the metric keeps its last value.
            }
            try
            {
                await Task.Delay(Interval, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    });

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        _stop.Dispose();
    }
}
