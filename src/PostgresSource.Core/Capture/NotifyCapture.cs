using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Npgsql;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Capture;

/// <summary>
/// Notify mode (the seed's): LISTEN on the source's channel and turn each notification into a change.
/// At most once: while disconnected, notifications are lost, so after a reconnect it raises a
/// <see cref="CaptureNotice"/> with <c>PossibleLoss</c>. Reconnects with exponential backoff and LISTENs again.
/// </summary>
public sealed class NotifyCapture : IChangeCapture
{
    private readonly SourceDefinition _source;
    private readonly CaptureOptions _options;
    private readonly string _connectionString;
    private volatile bool _ready;
    private NpgsqlConnection? _connection;

    public NotifyCapture(SourceDefinition source, ConnectionSettings connection, CaptureOptions? options = null)
    {
        _source = source;
        _options = options ?? CaptureOptions.Default;
        Channel = string.IsNullOrWhiteSpace(_options.Channel) ? source.DatabaseObjectName : _options.Channel;
        var builder = connection.ToBuilder();
        // A LISTEN connection is ours alone for its whole life: never pooled, so closing it really closes it.
        builder.Pooling = false;
        if (string.IsNullOrEmpty(builder.ApplicationName))
        {
            builder.ApplicationName = _options.ApplicationName;
        }
        _connectionString = builder.ConnectionString;
    }

    public CaptureMode Mode => CaptureMode.Notify;

    /// <summary>The channel this capture LISTENs on.</summary>
    public string Channel { get; }

    public bool IsReady => _ready;

    public event Action<CaptureNotice>? Notice;

    public async IAsyncEnumerable<CapturedChange> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var pending = new Queue<CapturedChange>();
        var connectedBefore = false;
        NpgsqlConnection? connection = null;
        try
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (connection is null)
                {
                    connection = await ConnectAsync(pending, firstTime: !connectedBefore, cancellationToken).ConfigureAwait(false);
                    if (connectedBefore)
                    {
                        Raise($"Reconnected and listening on channel {Channel} again. Notify mode may have missed changes made while disconnected.", possibleLoss: true);
                    }
                    connectedBefore = true;
                }
                while (pending.Count > 0)
                {
                    yield return pending.Dequeue();
                }
                var lost = await WaitAsync(connection, cancellationToken).ConfigureAwait(false);
                if (lost is not null)
                {
                    _ready = false;
                    await CloseAsync(connection).ConfigureAwait(false);
                    connection = null;
                    Raise($"Lost the database connection ({lost.Message}); reconnecting. Changes made until then are not captured in Notify mode.", possibleLoss: true);
                }
            }
        }
        finally
        {
            _ready = false;
            if (connection is not null)
            {
                await CloseAsync(connection).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Notify mode keeps nothing to acknowledge.</summary>
    public ValueTask AcknowledgeAsync(CapturedChange change, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    private async Task<NpgsqlConnection> ConnectAsync(Queue<CapturedChange> pending, bool firstTime, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var connection = new NpgsqlConnection(_connectionString);
            connection.Notification += (_, e) => OnNotification(e.Payload, pending);
            try
            {
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
                await using (var listen = new NpgsqlCommand("LISTEN " + Sql.Identifier(Channel), connection))
                {
                    await listen.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }
                _connection = connection;
                _ready = true;
                return connection;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && IsTransient(ex) && (!firstTime || _options.RetryInitialConnection))
            {
                await CloseAsync(connection).ConfigureAwait(false);
                var delay = Backoff(attempt);
                Raise($"Cannot connect to the database ({ex.Message}); retrying in {delay.TotalSeconds:0.#} s (attempt {attempt}).", possibleLoss: false);
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await CloseAsync(connection).ConfigureAwait(false);
                throw;
            }
        }
    }

    private static async Task<Exception?> WaitAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            await connection.WaitAsync(cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && IsTransient(ex))
        {
            return ex;
        }
    }

    private void OnNotification(string payload, Queue<CapturedChange> pending)
    {
        try
        {
            pending.Enqueue(Parse(payload));
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or KeyNotFoundException)
        {
            var start = payload.Length > 120 ? payload[..120] + "..." : payload;
            Raise($"Ignored a notification on channel {Channel} that is not a PostgresSource change ({ex.Message}): {start}", possibleLoss: false);
        }
    }

    /// <summary>The seed payload {"table","action","data"} plus this product's "schema" and "truncated".</summary>
    internal CapturedChange Parse(string payload)
    {
        using var document = JsonDocument.Parse(payload);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("the payload is not a JSON object");
        }
        var table = root.GetProperty("table").GetString() ?? throw new FormatException("\"table\" is null");
        var action = root.GetProperty("action").GetString() ?? throw new FormatException("\"action\" is null");
        var schema = root.TryGetProperty("schema", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : SchemaOf(table);
        var truncated = root.TryGetProperty("truncated", out var t) && t.ValueKind == JsonValueKind.True;
        return new CapturedChange
        {
            Schema = schema,
            Table = table,
            Operation = CapturedChange.ParseAction(action),
            PayloadJson = payload,
            Truncated = truncated,
        };
    }

    /// <summary>The seed's own trigger sends no schema: take it from the source's table list, else public.</summary>
    private string SchemaOf(string table) =>
        _source.Tables.FirstOrDefault(t => t.Name == table && t.Schema is not null)?.Schema ?? "public";

    private TimeSpan Backoff(int attempt)
    {
        var ms = Math.Min(_options.InitialReconnectDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 20)), _options.MaxReconnectDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(ms * (0.8 + Random.Shared.NextDouble() * 0.4));
    }

    internal static bool IsTransient(Exception exception) => TransientErrors.IsTransient(exception);

    private void Raise(string message, bool possibleLoss)
    {
        Notice.RaiseSafely(message, possibleLoss);
    }

    private static async Task CloseAsync(NpgsqlConnection connection)
    {
        try
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or IOException or SocketException or InvalidOperationException)
        {
            // Already broken.
        }
    }

    public async ValueTask DisposeAsync()
    {
        _ready = false;
        if (Interlocked.Exchange(ref _connection, null) is { } connection)
        {
            await CloseAsync(connection).ConfigureAwait(false);
        }
    }
}
