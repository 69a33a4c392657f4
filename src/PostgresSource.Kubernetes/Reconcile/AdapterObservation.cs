using PostgresSource.Core.Hosting;

namespace PostgresSource.Kubernetes;

/// <summary>
/// What the controller learned from the source's running adapter (GET /state on its pod): the state it sent, or why
/// there is none. Cluster sync runs outside the cluster and makes no observation (null), so its Ready follows the
/// Deployment alone.
/// </summary>
internal sealed record AdapterObservation(AdapterState? State, string? Problem)
{
    public static AdapterObservation Reported(AdapterState state) => new(state, null);

    public static AdapterObservation Missing(string problem) => new(null, problem);
}
