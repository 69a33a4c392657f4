using System.Globalization;
using Npgsql;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture.Notify;

/// <summary>
/// Notify mode's watch on PostgreSQL's shared notification queue (8 GB): reads <c>pg_notification_queue_usage()</c>
/// on a short connection of its own (never the LISTEN connection, which must only read notifications), keeps the last
/// value, and warns once when it rises above the threshold and once when it is back below. The queue is the whole
/// cluster's: a full queue makes every NOTIFY fail at commit, so every write to a table watched in Notify mode fails.
/// It fills when some listening session does not read (this capture reads continuously; another session idle in a
/// transaction, or a stuck client, does not).
/// </summary>
internal sealed class NotificationQueueWatch(string connectionString, double threshold, Action<string, bool> notice)
{
    private readonly object _gate = new();
    private double? _last;
    private bool _above;
    private bool _failing;

    public double Threshold { get; } = threshold;

    /// <summary>The last value read (a fraction from 0 to 1), or null before the first successful read.</summary>
    public double? Last
    {
        get
        {
            lock (_gate)
            {
                return _last;
            }
        }
    }

    /// <summary>Reads the usage once; a failure is reported (once until a read succeeds again) and not thrown.</summary>
    public async Task CheckAsync(CancellationToken cancellationToken)
    {
        double usage;
        try
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var command = new NpgsqlCommand("SELECT pg_notification_queue_usage()", connection);
            usage = Convert.ToDouble(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is NpgsqlException or IOException or TimeoutException or InvalidOperationException or InvalidCastException)
        {
            // A lost server is the LISTEN connection's to report; anything else (a permission, a timeout) is said once.
            if (!_failing && !TransientErrors.IsTransient(ex))
            {
                notice($"Cannot read pg_notification_queue_usage() to watch PostgreSQL's notification queue ({ex.Message}); trying again on every check.", false);
            }
            _failing = true;
            return;
        }
        _failing = false;
        Observe(usage);
    }

    /// <summary>Records a reading and raises a notice when it crosses the threshold, either way.</summary>
    public void Observe(double usage)
    {
        bool crossedUp, crossedDown;
        lock (_gate)
        {
            _last = usage;
            crossedUp = !_above && usage > Threshold;
            crossedDown = _above && usage <= Threshold;
            _above = usage > Threshold;
        }
        if (crossedUp)
        {
            notice($"PostgreSQL's notification queue is {Percent(usage)} full (warning above {Percent(Threshold)}). " +
                   "When it is full, every NOTIFY in the cluster fails at commit, so every write to a table a Notify source watches fails. " +
                   "A session that LISTENs but does not read holds it back, typically one left idle in a transaction (once the queue is half full, PostgreSQL's log names its process id); " +
                   "this listener reads its notifications continuously.", false);
        }
        else if (crossedDown)
        {
            notice($"PostgreSQL's notification queue is no longer above {Percent(Threshold)} (now {Percent(usage)} full).", false);
        }
    }

    private static string Percent(double fraction) => (fraction * 100).ToString(fraction < 0.01 ? "0.####" : "0.#", CultureInfo.InvariantCulture) + "%";
}
