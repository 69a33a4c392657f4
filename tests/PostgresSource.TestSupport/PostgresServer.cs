using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace PostgresSource.TestSupport;

/// <summary>
/// A real PostgreSQL server for tests, found or started in this order: PGSOURCE_TEST_CONNECTION;
/// a Testcontainers container when a Docker engine answers; a throwaway cluster from the local server
/// binaries (run as the unprivileged 'postgres' user when we are root, because initdb refuses root).
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    public const string ConnectionVariable = "PGSOURCE_TEST_CONNECTION";

    private readonly Func<ValueTask>? _stop;
    private int _databaseCounter;

    private PostgresServer(string adminConnectionString, string kind, Func<ValueTask>? stop, LocalCluster? local)
    {
        AdminConnectionString = adminConnectionString;
        Kind = kind;
        _stop = stop;
        Local = local;
    }

    /// <summary>A superuser connection to the server's maintenance database.</summary>
    public string AdminConnectionString { get; }

    /// <summary>environment, testcontainers, or local.</summary>
    public string Kind { get; }

    /// <summary>The local cluster, when the server is one we started (lets fault tests restart it).</summary>
    public LocalCluster? Local { get; }

    public static async Task<PostgresServer> StartAsync(CancellationToken cancellationToken = default)
    {
        var given = Environment.GetEnvironmentVariable(ConnectionVariable);
        if (!string.IsNullOrWhiteSpace(given))
        {
            return new PostgresServer(given, "environment", null, null);
        }

        if (DockerEngineAnswers())
        {
            var container = await TryStartContainerAsync(cancellationToken).ConfigureAwait(false);
            if (container is not null)
            {
                return container;
            }
        }

        var cluster = await LocalCluster.StartAsync(cancellationToken).ConfigureAwait(false);
        return new PostgresServer(cluster.ConnectionString, "local", cluster.DisposeAsync, cluster);
    }

    /// <summary>A new, empty database on the server; tests get one each so they cannot see each other's objects.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix = "t")
    {
        var name = $"{prefix}_{Environment.ProcessId}_{Interlocked.Increment(ref _databaseCounter)}_{Guid.NewGuid():N}"[..40].ToLowerInvariant();
        await using (var connection = new NpgsqlConnection(AdminConnectionString))
        {
            await connection.OpenAsync().ConfigureAwait(false);
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        return new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name, Pooling = false }.ConnectionString;
    }

    private static bool DockerEngineAnswers()
    {
        var host = Environment.GetEnvironmentVariable("DOCKER_HOST");
        if (!string.IsNullOrEmpty(host))
        {
            return true;
        }
        const string socketPath = "/var/run/docker.sock";
        if (!File.Exists(socketPath))
        {
            return false;
        }
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(socketPath));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static async Task<PostgresServer?> TryStartContainerAsync(CancellationToken cancellationToken)
    {
        try
        {
            var container = new Testcontainers.PostgreSql.PostgreSqlBuilder("postgres:16-alpine")
                .WithCommand("-c", "wal_level=logical", "-c", "max_replication_slots=20", "-c", "max_wal_senders=20")
                .Build();
            await container.StartAsync(cancellationToken).ConfigureAwait(false);
            return new PostgresServer(container.GetConnectionString(), "testcontainers", container.DisposeAsync, null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Console.Error.WriteLine($"Testcontainers could not start PostgreSQL ({ex.GetType().Name}); using local binaries.");
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop is not null)
        {
            await _stop().ConfigureAwait(false);
        }
    }

    internal static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
