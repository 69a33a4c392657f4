namespace PostgresSource.PowerShell;

/// <summary>What Sync-PgSourceCluster did (or, with -WhatIf, would do) to one object.</summary>
public enum PgSourceClusterAction
{
    /// <summary>The object did not exist and was created.</summary>
    Created,
    /// <summary>The object existed and fields were changed (listed in Changes).</summary>
    Configured,
    /// <summary>The object was already as it should be; nothing was sent.</summary>
    Unchanged,
    /// <summary>The object was deleted (-Prune).</summary>
    Deleted,
    /// <summary>-WhatIf: the object would be created.</summary>
    WouldCreate,
    /// <summary>-WhatIf: the fields in Changes would be changed.</summary>
    WouldConfigure,
    /// <summary>-WhatIf: the object would be deleted.</summary>
    WouldDelete,
    /// <summary>The change was declined at a -Confirm prompt.</summary>
    Skipped,
}

/// <summary>One object Sync-PgSourceCluster looked at: what it is, and what happened to it.</summary>
public sealed class PgSourceClusterChange
{
    /// <summary>The source ("namespace/name") the object belongs to; empty for the CRD and the ClusterRole.</summary>
    public string? Source { get; init; }

    /// <summary>PostgresSource, ServiceAccount, RoleBinding, Deployment, Job, CustomResourceDefinition, ClusterRole.</summary>
    public required string Kind { get; init; }

    /// <summary>Empty for cluster-scoped objects.</summary>
    public string? Namespace { get; init; }

    public required string Name { get; init; }

    /// <summary>"status" when the row is about the PostgresSource's status subresource.</summary>
    public string? Subresource { get; init; }

    public required PgSourceClusterAction Action { get; init; }

    /// <summary>The fields that changed (or would), like spec.tables or spec.template.spec.containers[0].env.</summary>
    public required string[] Changes { get; init; }

    public string? Message { get; init; }

    /// <summary>True when the cluster was changed for this object.</summary>
    public bool Changed => Action is PgSourceClusterAction.Created or PgSourceClusterAction.Configured or PgSourceClusterAction.Deleted;

    public override string ToString() =>
        $"{Action} {Kind}{(Subresource is null ? string.Empty : "/" + Subresource)} {(Namespace is null ? Name : Namespace + "/" + Name)}";
}
