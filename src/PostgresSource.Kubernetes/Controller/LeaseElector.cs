using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using PostgresSource.Core.Hosting;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes.Controller;

/// <summary>
/// Leader election with a coordination.k8s.io Lease: one replica holds it and renews it; the others wait until it
/// has not been renewed for its duration (timed by their own clock from when they last saw it change, so clocks
/// need not agree). Every write of the Lease carries the resourceVersion it was read at, so two replicas can never
/// both take it. The leader stops leading when it cannot renew in time, and hands the Lease back on shutdown.
/// </summary>
internal sealed class LeaseElector(IClusterApi api, ControllerOptions options, Func<DateTimeOffset> clock, JsonLog log)
{
    private string? _observedVersion;
    private DateTimeOffset _observedAt;

    public bool IsLeader { get; private set; }

    /// <summary>Times this replica became the leader.</summary>
    public int Terms { get; private set; }

    private enum Attempt { Held, HeldByOther, Failed }

    /// <summary>Runs <paramref name="lead"/> while this replica holds the Lease, until cancelled.</summary>
    public async Task RunAsync(Func<CancellationToken, Task> lead, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            if (await TryHoldAsync(cancellationToken).ConfigureAwait(false) != Attempt.Held)
            {
                await DelayAsync(options.RetryInterval, cancellationToken).ConfigureAwait(false);
                continue;
            }
            IsLeader = true;
            Terms++;
            log.Info("Leading: this replica reconciles PostgresSources.", ("identity", options.Identity), ("lease", $"{options.LeaseNamespace}/{options.LeaseName}"));
            using (var leading = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                var work = lead(leading.Token);
                var renewed = clock();
                var renewDeadline = options.LeaseDuration * 2 / 3;
                while (!cancellationToken.IsCancellationRequested && !work.IsCompleted)
                {
                    await Task.WhenAny(work, Task.Delay(options.RenewInterval, cancellationToken)).ConfigureAwait(false);
                    if (cancellationToken.IsCancellationRequested || work.IsCompleted)
                    {
                        break;
                    }
                    var attempt = await TryHoldAsync(cancellationToken).ConfigureAwait(false);
                    if (attempt == Attempt.Held)
                    {
                        renewed = clock();
                    }
                    else if (attempt == Attempt.HeldByOther || clock() - renewed >= renewDeadline)
                    {
                        log.Warn("Lost the Lease: this replica stops reconciling.", ("identity", options.Identity));
                        break;
                    }
                }
                await leading.CancelAsync().ConfigureAwait(false);
                try
                {
                    await work.ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // the work stops with its token
                }
            }
            IsLeader = false;
            if (cancellationToken.IsCancellationRequested)
            {
                await ReleaseAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task<Attempt> TryHoldAsync(CancellationToken cancellationToken)
    {
        try
        {
            var now = clock();
            var lease = await api.GetAsync(ResourceType.Lease, options.LeaseNamespace, options.LeaseName, cancellationToken).ConfigureAwait(false);
            if (lease is null)
            {
                var created = await api.CreateAsync(ResourceType.Lease, NewLease(now), cancellationToken).ConfigureAwait(false);
                Observe(created, now);
                return Attempt.Held;
            }
            var holder = JsonTree.GetString(lease, "spec", "holderIdentity");
            var version = JsonTree.GetString(lease, "metadata", "resourceVersion");
            if (version != _observedVersion)
            {
                Observe(lease, now);
            }
            var duration = TimeSpan.FromSeconds(JsonTree.GetInt64(lease, "spec", "leaseDurationSeconds") ?? (long)options.LeaseDuration.TotalSeconds);
            if (!string.IsNullOrEmpty(holder) && holder != options.Identity && now < _observedAt + duration)
            {
                return Attempt.HeldByOther;
            }
            var spec = lease["spec"] as JsonObject ?? new JsonObject();
            lease["spec"] = spec;
            if (holder != options.Identity)
            {
                spec["acquireTime"] = MicroTime(now);
                spec["leaseTransitions"] = (JsonTree.GetInt64(lease, "spec", "leaseTransitions") ?? 0) + (string.IsNullOrEmpty(holder) ? 0 : 1);
            }
            spec["holderIdentity"] = options.Identity;
            spec["leaseDurationSeconds"] = (long)options.LeaseDuration.TotalSeconds;
            spec["renewTime"] = MicroTime(now);
            var replaced = await api.ReplaceAsync(ResourceType.Lease, lease, cancellationToken).ConfigureAwait(false);
            Observe(replaced, now);
            return Attempt.Held;
        }
        catch (ClusterRequestException ex) when (ex.StatusCode == HttpStatusCode.Conflict)
        {
            // Another replica wrote the Lease between our read and write.
            return Attempt.HeldByOther;
        }
        catch (ClusterException ex)
        {
            log.Warn("Could not read or write the Lease.", ("lease", $"{options.LeaseNamespace}/{options.LeaseName}"), ("error", ex.Message));
            return Attempt.Failed;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Attempt.Failed;
        }
    }

    /// <summary>Hands the Lease back (no holder, one-second duration) so a standby replica takes over at once.</summary>
    private async Task ReleaseAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            var lease = await api.GetAsync(ResourceType.Lease, options.LeaseNamespace, options.LeaseName, timeout.Token).ConfigureAwait(false);
            if (lease?["spec"] is not JsonObject spec || JsonTree.GetString(spec, "holderIdentity") != options.Identity)
            {
                return;
            }
            spec["holderIdentity"] = string.Empty;
            spec["leaseDurationSeconds"] = 1;
            spec["renewTime"] = MicroTime(clock());
            await api.ReplaceAsync(ResourceType.Lease, lease, timeout.Token).ConfigureAwait(false);
            log.Info("Released the Lease.", ("identity", options.Identity));
        }
        catch (Exception ex) when (ex is ClusterException or OperationCanceledException)
        {
            log.Warn("Could not release the Lease; another replica takes over when it expires.", ("error", ex.Message));
        }
    }

    private void Observe(JsonObject lease, DateTimeOffset now)
    {
        _observedVersion = JsonTree.GetString(lease, "metadata", "resourceVersion");
        _observedAt = now;
    }

    private JsonObject NewLease(DateTimeOffset now) => new()
    {
        ["apiVersion"] = ResourceType.Lease.ApiVersion,
        ["kind"] = ResourceType.Lease.Kind,
        ["metadata"] = new JsonObject
        {
            ["name"] = options.LeaseName,
            ["namespace"] = options.LeaseNamespace,
            ["labels"] = new JsonObject { [PgSourceKube.ManagedByLabel] = PgSourceKube.ManagedByValue },
        },
        ["spec"] = new JsonObject
        {
            ["holderIdentity"] = options.Identity,
            ["leaseDurationSeconds"] = (long)options.LeaseDuration.TotalSeconds,
            ["acquireTime"] = MicroTime(now),
            ["renewTime"] = MicroTime(now),
            ["leaseTransitions"] = 0,
        },
    };

    /// <summary>Kubernetes MicroTime: RFC 3339 with microseconds.</summary>
    public static string MicroTime(DateTimeOffset time) =>
        time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private static async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }
}
