using System.Diagnostics;
using System.Security.Cryptography;
using Npgsql;

namespace PostgresSource.TestSupport;

/// <summary>
/// A throwaway PostgreSQL cluster from the machine's server binaries, in a temp folder, on a free
/// loopback port, with wal_level=logical. Removed on dispose (and on process exit, if a test run dies).
/// </summary>
public sealed class LocalCluster : IAsyncDisposable
{
    private const string ServiceUser = "postgres";
    private readonly string _binDirectory;
    private readonly bool _asServiceUser;
    private int _disposed;

    private LocalCluster(string binDirectory, string dataDirectory, int port, string password, bool asServiceUser)
    {
        _binDirectory = binDirectory;
        DataDirectory = dataDirectory;
        Port = port;
        Password = password;
        _asServiceUser = asServiceUser;
        ConnectionString = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = port,
            Username = "postgres",
            Password = password,
            Database = "postgres",
            Pooling = false,
        }.ConnectionString;
    }

    public string DataDirectory { get; }
    public int Port { get; }
    public string Password { get; }
    public string ConnectionString { get; }

    /// <param name="files">Files written into the data directory before the server starts (a TLS key and certificate,
    /// say), readable by the server's user alone, as PostgreSQL requires of a key.</param>
    public static async Task<LocalCluster> StartAsync(CancellationToken cancellationToken = default, IReadOnlyDictionary<string, string>? settings = null,
        IReadOnlyDictionary<string, string>? files = null)
    {
        var bin = FindBinDirectory() ?? throw new InvalidOperationException(
            "No PostgreSQL server binaries found (initdb on PATH or under /usr/lib/postgresql/*/bin). " +
            "Install the 'postgresql' package, start Docker, or set " + PostgresServer.ConnectionVariable + ".");
        var asServiceUser = Environment.UserName == "root" || geteuid() == 0;
        var root = Path.Combine(Path.GetTempPath(), "pgsource-" + Guid.NewGuid().ToString("N")[..12]);
        var data = Path.Combine(root, "data");
        Directory.CreateDirectory(root);
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(12)).ToLowerInvariant();
        var passwordFile = Path.Combine(root, "pw");
        await File.WriteAllTextAsync(passwordFile, password + "\n", cancellationToken).ConfigureAwait(false);
        if (asServiceUser)
        {
            await RunAsync("chown", ["-R", ServiceUser, root], asUser: null, cancellationToken).ConfigureAwait(false);
        }

        var cluster = new LocalCluster(bin, data, PostgresServer.FreePort(), password, asServiceUser);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => cluster.DisposeAsync().AsTask().GetAwaiter().GetResult();

        await cluster.RunToolAsync("initdb", ["-D", data, "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync",
            "--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile=" + passwordFile], cancellationToken).ConfigureAwait(false);
        File.Delete(passwordFile);

        var config = new Dictionary<string, string>
        {
            ["port"] = cluster.Port.ToString(),
            ["listen_addresses"] = "'127.0.0.1'",
            ["unix_socket_directories"] = $"'{root}'",
            ["wal_level"] = "logical",
            ["max_replication_slots"] = "20",
            ["max_wal_senders"] = "20",
            ["max_connections"] = "200",
            ["fsync"] = "off",
            ["full_page_writes"] = "off",
            ["shared_buffers"] = "128MB",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            config[key] = value;
        }
        foreach (var (name, content) in files ?? new Dictionary<string, string>())
        {
            var path = Path.Combine(data, name);
            await File.WriteAllTextAsync(path, content, cancellationToken).ConfigureAwait(false);
            // A throwaway cluster runs from the local server binaries, on Linux only (the tests use Docker or a given server elsewhere).
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            if (asServiceUser)
            {
                await RunAsync("chown", [ServiceUser, path], asUser: null, cancellationToken).ConfigureAwait(false);
            }
        }
        await File.AppendAllLinesAsync(Path.Combine(data, "postgresql.conf"),
            config.Select(p => $"{p.Key} = {p.Value}"), cancellationToken).ConfigureAwait(false);

        await cluster.StartServerAsync(cancellationToken).ConfigureAwait(false);
        return cluster;
    }

    public Task StartServerAsync(CancellationToken cancellationToken = default) =>
        RunToolAsync("pg_ctl", ["-D", DataDirectory, "-l", Path.Combine(DataDirectory, "..", "server.log"), "-w", "-t", "60", "start"], cancellationToken);

    public Task StopServerAsync(string mode = "fast", CancellationToken cancellationToken = default) =>
        RunToolAsync("pg_ctl", ["-D", DataDirectory, "-m", mode, "-w", "-t", "60", "stop"], cancellationToken);

    /// <summary>Stops and starts the server, as a database restart in production would.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        await StopServerAsync("fast", cancellationToken).ConfigureAwait(false);
        await StartServerAsync(cancellationToken).ConfigureAwait(false);
    }

    private Task RunToolAsync(string tool, IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        RunAsync(Path.Combine(_binDirectory, tool), arguments, _asServiceUser ? ServiceUser : null, cancellationToken);

    private static async Task RunAsync(string file, IReadOnlyList<string> arguments, string? asUser, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo
        {
            FileName = asUser is null ? file : "runuser",
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        if (asUser is not null)
        {
            start.ArgumentList.Add("-u");
            start.ArgumentList.Add(asUser);
            start.ArgumentList.Add("--");
            start.ArgumentList.Add(file);
        }
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Cannot start {file}.");
        // pg_ctl's server inherits our pipes; read to end only until pg_ctl itself exits.
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            var error = await Task.WhenAny(stderr, Task.Delay(2000, cancellationToken)).ConfigureAwait(false) == stderr ? await stderr.ConfigureAwait(false) : string.Empty;
            throw new InvalidOperationException($"{Path.GetFileName(file)} {string.Join(' ', arguments)} failed ({process.ExitCode}): {error}");
        }
        _ = stdout;
    }

    private static string? FindBinDirectory()
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator))
        {
            if (File.Exists(Path.Combine(directory, "initdb")) && File.Exists(Path.Combine(directory, "pg_ctl")))
            {
                // /usr/local/bin may hold symlinks: use the real folder so pg_ctl finds postgres beside it.
                var real = new FileInfo(Path.Combine(directory, "initdb")).ResolveLinkTarget(returnFinalTarget: true);
                return real is null ? directory : Path.GetDirectoryName(real.FullName);
            }
        }
        const string debianRoot = "/usr/lib/postgresql";
        if (!Directory.Exists(debianRoot))
        {
            return null;
        }
        return Directory.GetDirectories(debianRoot)
            .Select(d => Path.Combine(d, "bin"))
            .Where(d => File.Exists(Path.Combine(d, "initdb")))
            .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var v) ? v : 0)
            .FirstOrDefault();
    }

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern uint geteuid();

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        try
        {
            await StopServerAsync("immediate").ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // Already stopped.
        }
        try
        {
            Directory.Delete(Path.GetDirectoryName(DataDirectory)!, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
