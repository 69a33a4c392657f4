using PostgresSource.Core.Diagnostics;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes;

/// <summary>What happened (or would happen) to one object.</summary>
internal enum ChangeAction
{
    Created,
    Configured,
    Unchanged,
    Deleted,
    WouldCreate,
    WouldConfigure,
    WouldDelete,
    /// <summary>The user declined the change (-Confirm).</summary>
    Skipped,
}

internal enum ChangeVerb
{
    Create,
    Configure,
    Delete,
}

/// <summary>The answer to "may I make this change?": yes, -WhatIf (report only), or no.</summary>
internal enum Approval
{
    Approved,
    WhatIf,
    Declined,
}

/// <summary>A write about to be made, for confirmation.</summary>
internal sealed record PlannedChange(string? Source, string Kind, string? Namespace, string Name, ChangeVerb Verb, IReadOnlyList<string> Changes, string? Subresource = null)
{
    public string Target => $"{Kind}{(Subresource is null ? string.Empty : "/" + Subresource)} {(Namespace is null ? Name : $"{Namespace}/{Name}")}";

    public string Action => Verb switch
    {
        ChangeVerb.Create => Subresource is null ? "Create" : "Set " + Subresource,
        ChangeVerb.Configure => (Subresource is null ? "Update" : "Update " + Subresource) + (Changes.Count == 0 ? string.Empty : " (" + string.Join(", ", Changes) + ")"),
        _ => "Delete",
    };
}

/// <summary>The outcome for one object: kind, namespace, name, action and the fields that changed.</summary>
internal sealed record ObjectChange(
    string? Source,
    string Kind,
    string? Namespace,
    string Name,
    ChangeAction Action,
    IReadOnlyList<string> Changes,
    string? Subresource = null,
    string? Message = null);

/// <summary>
/// How the sync engine talks to its caller. The rule: every call is made on the <see cref="SynchronizationContext"/>
/// that was current when <see cref="ClusterSynchronizer.SyncAsync"/> was called, one at a time, and waits for its
/// return (so the PowerShell pipeline thread gets every call, see <see cref="CallerContextObserver"/>); without a
/// context, on whatever thread the engine is on. An implementation need not be thread-safe.
/// </summary>
internal interface ISyncObserver
{
    /// <summary>Asked once per write, just before it is sent.</summary>
    Approval Approve(PlannedChange change);

    void Report(ObjectChange change);

    /// <summary>A warning; <paramref name="remedy"/> is what would avoid it, for the caller to word (see <see cref="Remedy"/>).</summary>
    void Warn(string message, Remedy remedy = Remedy.None);

    void Verbose(string message);

    void Progress(int done, int total, string activity);

    /// <summary>One source failed; the others go on. <paramref name="source"/> is "namespace/name".</summary>
    void Failed(string source, Exception error);
}

internal sealed record SyncOptions
{
    public string Image { get; init; } = PgSourceKube.DefaultImage;

    /// <summary>Put every source in this namespace (and prune only here).</summary>
    public string? Namespace { get; init; }

    /// <summary>Remove the objects of sources (managed by this module) that were not given.</summary>
    public bool Prune { get; init; }

    /// <summary>With <see cref="Prune"/>: run the adapter's one-shot "uninstall" mode as a Job before removing a source.</summary>
    public bool RunUninstallJob { get; init; }

    /// <summary>Server-side apply with force: take over fields another field manager owns.</summary>
    public bool Force { get; init; }

    /// <summary>Install the CRD and the adapter ClusterRole when missing (needs cluster-scope rights).</summary>
    public bool ManageClusterResources { get; init; } = true;

    /// <summary>Install the controller first (namespace, CRD, RBAC, Deployment: <see cref="Manifests.ControllerManifests"/>).</summary>
    public bool InstallController { get; init; }

    /// <summary>The controller Deployment's image, with <see cref="InstallController"/>; its adapter image is <see cref="Image"/>.</summary>
    public string ControllerImage { get; init; } = PgSourceKube.DefaultControllerImage;

    public TimeSpan UninstallTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public TimeSpan CrdEstablishTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(2);
}
