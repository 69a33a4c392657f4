namespace PostgresSource.Core.Delivery;

/// <summary>
/// A bearer token kept in a file that is replaced while the program runs (a projected service account token, which
/// the kubelet rotates by swapping the symbolic link its file sits behind). The token is read again when the file
/// behind the link, its last write time or its length changes; that is looked at no more than once per
/// <see cref="RecheckInterval"/>. The token is only ever returned, never put in a message.
/// </summary>
internal sealed class BearerTokenFile(string path, TimeSpan? recheckInterval = null)
{
    private readonly object _gate = new();
    private (string Target, DateTime WriteTime, long Length)? _stamp;
    private string? _token;
    private long _checkedAt = long.MinValue;

    public string Path { get; } = path;

    public TimeSpan RecheckInterval { get; } = recheckInterval ?? TimeSpan.FromSeconds(1);

    /// <summary>The current token.</summary>
    /// <exception cref="SinkTokenException">The file cannot be read, or is empty (the message names the file, not its content).</exception>
    public string Read()
    {
        lock (_gate)
        {
            var now = Environment.TickCount64;
            if (_token is not null && now - _checkedAt < (long)RecheckInterval.TotalMilliseconds)
            {
                return _token;
            }
            try
            {
                var stamp = Stamp();
                if (_token is null || stamp != _stamp)
                {
                    var token = File.ReadAllText(Path).Trim();
                    if (token.Length == 0)
                    {
                        throw new SinkTokenException($"The sink token file '{Path}' is empty.");
                    }
                    _token = token;
                    _stamp = stamp;
                }
                _checkedAt = now;
                return _token;
            }
            catch (Exception ex) when (ex is UnauthorizedAccessException or IOException && _token is not null)
            {
                // Between two versions of the file: the token read before is still valid until it expires.
                return _token!;
            }
            catch (Exception ex) when (ex is UnauthorizedAccessException or IOException and not SinkTokenException)
            {
                throw new SinkTokenException($"The sink token file '{Path}' cannot be read: {ex.Message}", ex);
            }
        }
    }

    private (string, DateTime, long) Stamp()
    {
        var file = new FileInfo(Path);
        var target = file.LinkTarget is null ? file : File.ResolveLinkTarget(Path, returnFinalTarget: true) as FileInfo ?? file;
        return (target.FullName, target.LastWriteTimeUtc, target.Length);
    }
}

/// <summary>The sink's token file cannot be read or is empty; the message names the file, never a token.</summary>
internal sealed class SinkTokenException(string message, Exception? inner = null) : IOException(message, inner);
