namespace PostgresSource.Core.Diagnostics;

/// <summary>
/// What has to be given or decided for a failure to go away, without saying how: the core is hosted by the
/// cmdlets, the adapter (environment variables) and the controller, each with its own words for it. A core
/// message says what is wrong ("no database connection was given"); the host maps the remedy to its own
/// advice (the cmdlets: a parameter to pass). Add a value only with its wording in every host.
/// </summary>
internal enum Remedy
{
    /// <summary>Nothing a host needs to add: the message is the whole story.</summary>
    None,

    /// <summary>A database connection is needed and none was given or found in the environment.</summary>
    ChooseConnection,

    /// <summary>The source's objects belong to another role: connect as it, or take them over (losing what they hold).</summary>
    TakeOverObjects,

    /// <summary>The source is installed in another capture mode: switching has to be asked for.</summary>
    SwitchMode,

    /// <summary>No usable kubeconfig or context: one has to be chosen.</summary>
    ChooseKubeconfig,

    /// <summary>The cluster refused the credentials (401): log in again or use another identity.</summary>
    ClusterLogin,

    /// <summary>The cluster's RBAC forbids the request (403): get permission or use another identity.</summary>
    ClusterPermission,

    /// <summary>Another field manager owns the fields (409): take them over, or change them through that manager.</summary>
    TakeOverFields,

    /// <summary>The source has no sink; it needs one before it goes into a cluster.</summary>
    GiveSink,

    /// <summary>The sink is a reference that only a cluster can resolve: give its URL, or resolve it against the cluster.</summary>
    GiveSinkUri,

    /// <summary>A check of cluster-wide resources could not be made (403): it can be skipped.</summary>
    SkipClusterResourceCheck,

    /// <summary>The CRD is not installed: let the sync install the cluster resources, or have an administrator do it.</summary>
    InstallClusterResources,

    /// <summary>A Secret is to be exported and there is no connection to put in it.</summary>
    GiveSecretConnection,

    /// <summary>A Secret's credential is to be exported and there is no server (host, port, database) to combine it with.</summary>
    GiveSecretServer,
}

/// <summary>An exception that states the <see cref="Remedy"/> for what it reports.</summary>
internal interface IHasRemedy
{
    Remedy Remedy { get; }
}
