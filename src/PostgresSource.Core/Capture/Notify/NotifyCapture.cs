using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Npgsql;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Capture.Notify;

/// <summary>
/// Notify mode (the seed's): LISTEN on the source's channel and turn each notification into a change.
/// At most once: while disconnected, notifications are lost, so after a reconnect it raises a
/// <see cref="CaptureNotice"/> with <c>PossibleLoss</c>. Reconnects with exponential backoff and LISTENs again.
/// <para>
/// A background reader drains the LISTEN connection continuously, whatever the consumer does, into a bounded
/// buffer (<see cref="CaptureOptions.NotifyBufferCapacity"/> changes and <see cref="CaptureOptions.NotifyBufferBytes"/>
/// bytes) that <see cref="ReadAllAsync"/> yields from in order. A server session that stops reading would hold back
/// PostgreSQL's shared notification queue, and a full queue makes every NOTIFY fail at commit: every user write to a
/// watched table. So when the sink is slow or down and the buffer is full, the newest changes are dropped instead,
/// counted in <see cref="DroppedChanges"/> and reported (<c>PossibleLoss</c>, rate-limited). The queue's fill level is
/// read every <see cref="CaptureOptions.NotifyQueueCheckInterval"/> on a separate short connection
/// (<see cref="NotificationQueueUsage"/>), with a notice when it crosses <see cref="CaptureOptions.NotifyQueueWarningThreshold"/>.
/// Notices are raised from a task of their own, never from inside Npgsql's notification callback.
/// </para>
/// </summary>
internal sealed class NotifyCapture : IChangeCapture
{
    /// <summary>Notices waiting for the handlers; more than this means a handler is stuck, and later ones are dropped.</summary>
    private const int NoticeBacklog = 1000;

    private readonly SourceDefinition _source;
    private readonly CaptureOptions _options;
    private readonly string _connectionString;
    private readonly NotifyDropReport _drops;
    private readonly NotificationQueueWatch? _queueWatch;
    private readonly string[] _knownTables;
    private readonly string[] _knownSchemas;
    private volatile bool _ready;
    private volatile Session? _session;
    private int _reading;
    private long _received;
    private long _dropped;
    private int _pastPeak;

    public NotifyCapture(SourceDefinition source, ConnectionSettings connection, CaptureOptions? options = null)
    {
        _source = source;
        _options = (options ?? CaptureOptions.Default).Validate();
        Channel = string.IsNullOrWhiteSpace(_options.Channel) ? source.DatabaseObjectName : _options.Channel;
        // A LISTEN connection is ours alone for its whole life: never pooled, so closing it really closes it.
        _connectionString = connection.ToPrivateConnectionString(_options.ApplicationName);
        _drops = new NotifyDropReport(_options.NotifyDropReportInterval, TimeProvider.System);
        _knownTables = source.Tables.Select(t => t.Name).Distinct(StringComparer.Ordinal).ToArray();
        _knownSchemas = source.Tables.Select(t => t.Schema).OfType<string>().Append("public").Distinct(StringComparer.Ordinal).ToArray();
        if (_options.NotifyQueueCheckInterval is not null)
        {
            // Its own short connection per check (the same settings): the LISTEN connection only ever reads notifications.
            _queueWatch = new NotificationQueueWatch(_connectionString, _options.NotifyQueueWarningThreshold, Raise);
        }
    }

    public CaptureMode Mode => CaptureMode.Notify;

    /// <summary>The channel this capture LISTENs on.</summary>
    public string Channel { get; }

    public bool IsReady => _ready;

    /// <summary>Changes read from the LISTEN connection and not yet taken by the consumer.</summary>
    public int BufferedChanges => _session?.Buffer.Count ?? 0;

    /// <summary>The payload bytes of <see cref="BufferedChanges"/>, as counted against <see cref="CaptureOptions.NotifyBufferBytes"/>.</summary>
    public long BufferedBytes => _session?.Buffer.Bytes ?? 0;

    /// <summary>The most changes buffered at once since the capture was made (never above <see cref="CaptureOptions.NotifyBufferCapacity"/>).</summary>
    public int PeakBufferedChanges => Math.Max(Volatile.Read(ref _pastPeak), _session?.Buffer.Peak ?? 0);

    /// <summary>
    /// Notifications read from the LISTEN connection since the capture was made: each is buffered (then taken), or dropped
    /// (<see cref="DroppedChanges"/>), or ignored as not a change (reported).
    /// </summary>
    public long ReceivedNotifications => Interlocked.Read(ref _received);

    /// <summary>Changes dropped because the buffer was full (the sink did not keep up), since the capture was made.</summary>
    public long DroppedChanges => Interlocked.Read(ref _dropped);

    /// <summary>
    /// The last <c>pg_notification_queue_usage()</c> read (0 to 1: the fraction of PostgreSQL's notification queue in use),
    /// or null before the first read or when <see cref="CaptureOptions.NotifyQueueCheckInterval"/> is null.
    /// </summary>
    public double? NotificationQueueUsage => _queueWatch?.Last;

    public event Action<CaptureNotice>? Notice;

    /// <summary>
    /// Starts the background reader (and the queue watch) and yields what it buffers, in order, until cancelled or
    /// until the reader fails for good. Stopping the enumeration stops the reader; changes still buffered are dropped.
    /// One enumeration at a time.
    /// </summary>
    public async IAsyncEnumerable<CapturedChange> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _reading, 1, 0) != 0)
        {
            throw new InvalidOperationException("A Notify capture is read by one consumer at a time.");
        }
        var session = new Session(new NotifyBuffer(_options.NotifyBufferCapacity, _options.NotifyBufferBytes), cancellationToken);
        try
        {
            _session = session;
            session.Start(PumpNoticesAsync, ReadNotificationsAsync, ReportDropsAsync, _queueWatch is null ? null : WatchQueueAsync);
            while (true)
            {
                while (session.Buffer.TryTake(out var payload))
                {
                    // Read in full here, on the consumer's side, not in the notification callback.
                    if (ToChange(payload) is { } change)
                    {
                        yield return change;
                    }
                }
                if (!await session.Buffer.WaitToTakeAsync(cancellationToken).ConfigureAwait(false))
                {
                    break;
                }
            }
            // The reader ended (it only does on cancellation or on an error that retrying cannot fix): its error.
            await session.Reader!.ConfigureAwait(false);
        }
        finally
        {
            await session.StopAsync().ConfigureAwait(false);
            InterlockedMax(ref _pastPeak, session.Buffer.Peak);
            _session = null;
            // Drops still waiting for the report interval are reported now (at once: no reader runs any more).
            if (_drops.TakePending() is { } dropped)
            {
                RaiseDropped(dropped, session.Buffer);
            }
            session.Buffer.Clear();
            _ready = false;
            Volatile.Write(ref _reading, 0);
        }
    }

    /// <summary>The background reader: connect and LISTEN, then wait for notifications (the callback buffers them), reconnecting as needed.</summary>
    private async Task ReadNotificationsAsync(Session session)
    {
        try
        {
            await ChannelListener.RunAsync(_connectionString, Channel, _options.ReconnectBackoff(), new ChannelListenerHandlers
            {
                Payload = payload => OnNotification(payload, session.Buffer),
                // A wrong host at the very start is an error at once, unless the caller asked to wait for the database.
                RetryConnect = (error, connectedBefore) => IsTransient(error) && (connectedBefore || _options.RetryInitialConnection),
                RetryLost = IsTransient,
                ConnectFailed = (error, delay, attempt) =>
                    Raise($"Cannot connect to the database ({error.Message}); retrying in {delay.TotalSeconds:0.#} s (attempt {attempt}).", possibleLoss: false),
                Connected = (_, reconnected) =>
                {
                    _ready = true;
                    if (reconnected)
                    {
                        Raise($"Reconnected and listening on channel {Channel} again. Notify mode may have missed changes made while disconnected.", possibleLoss: true);
                    }
                },
                Lost = error =>
                {
                    _ready = false;
                    Raise($"Lost the database connection ({error.Message}); reconnecting. Changes made until then are not captured in Notify mode.", possibleLoss: true);
                },
            }, session.Token).ConfigureAwait(false);
        }
        finally
        {
            _ready = false;
            session.Buffer.Complete();
        }
    }

    /// <summary>Notify mode keeps nothing to acknowledge.</summary>
    public ValueTask AcknowledgeAsync(CapturedChange change, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>
    /// Npgsql's notification callback, on the reader's own task: buffer the payload or drop it, and return at once. It
    /// never waits: not for the consumer, not for a notice handler (notices go through <see cref="Raise"/>'s queue).
    /// It reads as little as it can, so that it keeps up with the server: a buffered payload is read in full only when
    /// taken; of a dropped one, only the start (its table and action) is read, to say what was dropped.
    /// </summary>
    private void OnNotification(string payload, NotifyBuffer buffer)
    {
        Interlocked.Increment(ref _received);
        if (buffer.TryAdd(payload))
        {
            return;
        }
        if (ReadHeader(payload) is not { } header)
        {
            // Not a change: nothing was lost (the full read says why).
            ToChange(payload);
            return;
        }
        Interlocked.Increment(ref _dropped);
        if (_drops.Count(header.Schema, header.Table, header.Operation) is { } dropped)
        {
            RaiseDropped(dropped, buffer);
        }
    }

    /// <summary>The change in a payload, or null (reported) when it is not one.</summary>
    private CapturedChange? ToChange(string payload)
    {
        try
        {
            return Parse(payload);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            var start = payload.Length > 120 ? payload[..120] + "..." : payload;
            Raise($"Ignored a notification on channel {Channel} that is not a PostgresSource change ({ex.Message}): {start}", possibleLoss: false);
            return null;
        }
    }

    private void RaiseDropped(DroppedChanges dropped, NotifyBuffer buffer)
    {
        const int listed = 10;
        var targets = string.Join(", ", dropped.Targets.Take(listed).Select(t => $"{t.Target} {t.Count}")) +
                      (dropped.Targets.Count > listed ? $", and {dropped.Targets.Count - listed} more" : "");
        var state = $"the capture's buffer holds {buffer.Count} of at most {buffer.Capacity} changes and {Mib(buffer.Bytes)} MiB of at most {Mib(buffer.MaxBytes)} MiB";
        Raise(dropped.Since is { } since
            ? $"Notify mode dropped {dropped.Count} more change(s) on channel {Channel} in the last {since.TotalSeconds:0.#} s ({targets}); " +
              $"{dropped.Total} dropped in all; {state}."
            : $"Notify mode is dropping changes on channel {Channel}: {state}, because the sink is not taking events as fast as they come. " +
              "Changes that arrive while it is full are dropped; what is buffered stays and is delivered in order. The capture keeps reading " +
              "so that PostgreSQL's notification queue never fills (a full queue makes every write to a watched table fail). " +
              $"Dropped: {targets}; {dropped.Total} in all.",
            possibleLoss: true);
    }

    private static string Mib(long bytes) => (bytes / (1024.0 * 1024.0)).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Summaries of drops that waited for the report interval, also when drops have stopped.</summary>
    private async Task ReportDropsAsync(Session session)
    {
        var tick = TimeSpan.FromTicks(Math.Min(_options.NotifyDropReportInterval.Ticks, TimeSpan.FromSeconds(1).Ticks));
        using var timer = new PeriodicTimer(tick);
        while (await timer.WaitForNextTickAsync(session.Token).ConfigureAwait(false))
        {
            if (_drops.TakeDue() is { } dropped)
            {
                RaiseDropped(dropped, session.Buffer);
            }
        }
    }

    private async Task WatchQueueAsync(Session session)
    {
        var interval = _options.NotifyQueueCheckInterval!.Value;
        while (true)
        {
            await _queueWatch!.CheckAsync(session.Token).ConfigureAwait(false);
            await Task.Delay(interval, session.Token).ConfigureAwait(false);
        }
    }

    private async Task PumpNoticesAsync(ChannelReader<CaptureNotice> notices)
    {
        await foreach (var notice in notices.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            Notice.RaiseSafely(notice.Message, notice.PossibleLoss);
        }
    }

    /// <summary>How much of a dropped payload is read to say what it was: the fields before "data" fit in it.</summary>
    private const int HeaderChars = 512;

    /// <summary>
    /// A dropped payload's schema, table and operation, read from its start only (this product's trigger and the seed's
    /// both put "data" last), so dropping stays cheap however large the row. When they are not all before "data" within
    /// the first <see cref="HeaderChars"/> characters, the whole payload is read. Null: not a change.
    /// </summary>
    internal (string Schema, string Table, ChangeOperation Operation)? ReadHeader(string payload)
    {
        var chars = Math.Min(payload.Length, HeaderChars);
        if (chars < payload.Length && char.IsHighSurrogate(payload[chars - 1]))
        {
            chars--;
        }
        Span<byte> bytes = stackalloc byte[HeaderChars * 3];
        var length = Encoding.UTF8.GetBytes(payload.AsSpan(0, chars), bytes);
        var reader = new Utf8JsonReader(bytes[..length], isFinalBlock: chars == payload.Length, state: default);
        string? table = null, schema = null, action = null;
        try
        {
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("data"u8) && table is not null && action is not null)
                    {
                        break;
                    }
                    var field = reader.ValueTextEquals("table"u8) ? 1 : reader.ValueTextEquals("action"u8) ? 2 : reader.ValueTextEquals("schema"u8) ? 3 : 0;
                    if (!reader.Read())
                    {
                        break;
                    }
                    if (field == 1)
                    {
                        table = ReadName(ref reader, "table", _knownTables);
                    }
                    else if (field == 2)
                    {
                        action = ReadString(ref reader, "action");
                    }
                    else if (field == 3 && reader.TokenType == JsonTokenType.String)
                    {
                        schema = ReadName(ref reader, "schema", _knownSchemas);
                    }
                    else if (!reader.TrySkip())
                    {
                        break;
                    }
                }
            }
            if (table is not null && action is not null)
            {
                return (schema ?? SchemaOf(table), table, CapturedChange.ParseAction(action));
            }
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            // Decided by the full read below.
        }
        try
        {
            var change = Parse(payload);
            return (change.Schema, change.Table, change.Operation);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>
    /// The seed payload {"table","action","data"} plus this product's "schema" and "truncated". One forward pass of a
    /// <see cref="Utf8JsonReader"/> that checks the whole payload is JSON and keeps only the top-level fields it needs
    /// (no document is built: this runs in the notification callback, once per notification). Known table and schema
    /// names reuse the source's own strings, so buffered changes do not each carry copies.
    /// </summary>
    /// <exception cref="JsonException">Not JSON.</exception>
    /// <exception cref="FormatException">JSON, but not a change: not an object, or no string "table" or "action", or an unknown action.</exception>
    internal CapturedChange Parse(string payload)
    {
        var rented = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(payload.Length));
        try
        {
            var length = Encoding.UTF8.GetBytes(payload, rented);
            var reader = new Utf8JsonReader(rented.AsSpan(0, length));
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new FormatException("the payload is not a JSON object");
            }
            string? table = null, schema = null, action = null;
            bool sawTable = false, sawAction = false, truncated = false;
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == 0)
                {
                    break;
                }
                // At depth 1 every token here is a property name; its value is read (or skipped) right after.
                if (reader.ValueTextEquals("table"u8))
                {
                    reader.Read();
                    sawTable = true;
                    table = ReadName(ref reader, "table", _knownTables);
                }
                else if (reader.ValueTextEquals("action"u8))
                {
                    reader.Read();
                    sawAction = true;
                    action = ReadString(ref reader, "action");
                }
                else if (reader.ValueTextEquals("schema"u8))
                {
                    reader.Read();
                    schema = reader.TokenType == JsonTokenType.String ? ReadName(ref reader, "schema", _knownSchemas) : null;
                    reader.Skip();
                }
                else if (reader.ValueTextEquals("truncated"u8))
                {
                    reader.Read();
                    truncated = reader.TokenType == JsonTokenType.True;
                    reader.Skip();
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
            // Whatever follows the object must be nothing but white space.
            while (reader.Read())
            {
            }
            if (!sawTable)
            {
                throw new FormatException("the payload has no \"table\"");
            }
            if (!sawAction)
            {
                throw new FormatException("the payload has no \"action\"");
            }
            if (table is null)
            {
                throw new FormatException("\"table\" is null");
            }
            return new CapturedChange
            {
                Schema = schema ?? SchemaOf(table),
                Table = table,
                Operation = CapturedChange.ParseAction(action ?? throw new FormatException("\"action\" is null")),
                PayloadJson = payload,
                Truncated = truncated,
            };
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>A string or null value; anything else is not a change.</summary>
    private static string? ReadString(ref Utf8JsonReader reader, string name) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString(),
        JsonTokenType.Null => null,
        _ => throw new FormatException($"\"{name}\" is not a string"),
    };

    /// <summary>Like <see cref="ReadString"/>, reusing the known name's string when the value is one.</summary>
    private static string? ReadName(ref Utf8JsonReader reader, string name, string[] known)
    {
        if (reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped)
        {
            foreach (var candidate in known)
            {
                if (reader.ValueTextEquals(candidate))
                {
                    return candidate;
                }
            }
        }
        return ReadString(ref reader, name);
    }

    /// <summary>The seed's own trigger sends no schema: take it from the source's table list, else public.</summary>
    private string SchemaOf(string table) =>
        _source.Tables.FirstOrDefault(t => t.Name == table && t.Schema is not null)?.Schema ?? "public";

    internal static bool IsTransient(Exception exception) => TransientErrors.IsTransient(exception);

    /// <summary>Queues the notice for the handlers (raised from a task of their own); raised at once when no reader runs.</summary>
    private void Raise(string message, bool possibleLoss)
    {
        if (_session is { } session && session.Notices.Writer.TryWrite(new CaptureNotice(message, possibleLoss)))
        {
            return;
        }
        Notice.RaiseSafely(message, possibleLoss);
    }

    private static void InterlockedMax(ref int location, int value)
    {
        int seen;
        while (value > (seen = Volatile.Read(ref location)) && Interlocked.CompareExchange(ref location, value, seen) != seen)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _ready = false;
        if (_session is { } session)
        {
            // Closes the LISTEN connection; the enumeration, if still open, ends with a cancellation.
            await session.StopAsync().ConfigureAwait(false);
        }
    }

    /// <summary>One enumeration's buffer and background tasks.</summary>
    private sealed class Session
    {
        private readonly CancellationTokenSource _stop;
        private readonly object _gate = new();
        private Task? _stopping;
        private Task? _pump;
        private Task[] _helpers = [];

        public Session(NotifyBuffer buffer, CancellationToken consumerToken)
        {
            Buffer = buffer;
            _stop = CancellationTokenSource.CreateLinkedTokenSource(consumerToken);
            Token = _stop.Token;
        }

        public NotifyBuffer Buffer { get; }

        /// <summary>Cancelled when the consumer's token is, or when the session stops.</summary>
        public CancellationToken Token { get; }

        public Channel<CaptureNotice> Notices { get; } = System.Threading.Channels.Channel.CreateBounded<CaptureNotice>(
            new BoundedChannelOptions(NoticeBacklog) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });

        public Task? Reader { get; private set; }

        public void Start(Func<ChannelReader<CaptureNotice>, Task> pump, Func<Session, Task> reader, params Func<Session, Task>?[] helpers)
        {
            _pump = Task.Run(() => pump(Notices.Reader));
            Reader = Task.Run(() => reader(this));
            _helpers = helpers.OfType<Func<Session, Task>>().Select(h => Task.Run(() => h(this))).ToArray();
        }

        public Task StopAsync()
        {
            lock (_gate)
            {
                return _stopping ??= StopCoreAsync();
            }
        }

        private async Task StopCoreAsync()
        {
            _stop.Cancel();
            if (Reader is { } reader)
            {
                await reader.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            foreach (var helper in _helpers)
            {
                await helper.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            // Notices raised until now still reach the handlers, unless one is stuck.
            Notices.Writer.TryComplete();
            if (_pump is { } pump)
            {
                await pump.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            _stop.Dispose();
        }
    }
}
