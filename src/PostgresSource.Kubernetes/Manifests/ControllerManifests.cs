using System.Text.Json.Nodes;
using k8s.Models;
using PostgresSource.Kubernetes;

namespace PostgresSource.Kubernetes.Manifests;

/// <summary>
/// What installs the controller (deploy/controller.yaml, Export-PgSourceManifest -Controller, Sync-PgSourceCluster
/// -InstallController), in apply order: its Namespace, the CRD, the adapter ClusterRole, the Knative source-observer
/// ClusterRole, the controller's least-privilege ClusterRole, its ServiceAccount and bindings, the Lease Role in its
/// namespace, and the Deployment. The RBAC holds exactly the verbs the controller's API calls need (tests compare
/// it with every request the controller sends), and no access to Secrets or ConfigMaps.
/// </summary>
internal static class ControllerManifests
{
    /// <summary>Two replicas: the Lease lets one reconcile while the other stands by and takes over within a lease duration.</summary>
    public const int Replicas = 2;

    /// <summary>The ClusterRole Knative's aggregated "source-observer" role picks up by its duck.knative.dev/source label.</summary>
    public const string SourceObserverRole = "postgressource-source-observer";

    public const string KnativeSourceDuckLabel = "duck.knative.dev/source";

    /// <summary>The Role and RoleBinding for the Lease, in the controller's namespace.</summary>
    public const string LeaderElectionRole = PgSourceKube.ControllerName + "-leader-election";

    public const string ContainerName = "controller";

    private const string RbacGroup = "rbac.authorization.k8s.io";

    /// <summary>The objects in apply order, each with where the API serves it.</summary>
    public static IReadOnlyList<(ResourceType Type, JsonObject Object)> Build(string controllerImage, string adapterImage) =>
    [
        (ResourceType.Namespace, JsonTree.ToJson(Namespace())),
        (ResourceType.CustomResourceDefinition, JsonTree.ToJson(PostgresSourceCrd.Build())),
        (ResourceType.ClusterRole, JsonTree.ToJson(SourceObjects.AdapterClusterRole())),
        (ResourceType.ClusterRole, JsonTree.ToJson(SourceObserverClusterRole())),
        (ResourceType.ClusterRole, JsonTree.ToJson(ControllerClusterRole())),
        (ResourceType.ServiceAccount, JsonTree.ToJson(ServiceAccount())),
        (ResourceType.ClusterRoleBinding, JsonTree.ToJson(ClusterRoleBinding())),
        (ResourceType.Role, JsonTree.ToJson(LeaderElectionRoleObject())),
        (ResourceType.RoleBinding, JsonTree.ToJson(LeaderElectionRoleBinding())),
        (ResourceType.Deployment, JsonTree.ToJson(Deployment(controllerImage, adapterImage))),
    ];

    /// <summary>The labels of every controller object; no source label, so -Prune never selects them.</summary>
    public static Dictionary<string, string> Labels() => new()
    {
        [PgSourceKube.NameLabel] = PgSourceKube.ControllerName,
        [PgSourceKube.ComponentLabel] = PgSourceKube.ControllerComponent,
        [PgSourceKube.PartOfLabel] = "postgressource",
        [PgSourceKube.ManagedByLabel] = PgSourceKube.ManagedByValue,
    };

    /// <summary>The rules of the controller's ClusterRole, one per resource, so each grant reads (and is tested) on its own.</summary>
    public static List<V1PolicyRule> ControllerRules() =>
    [
        // Informers (list, watch), the reconcile's read, and the finalizer (a merge patch).
        Rule(PgSourceKube.Group, PgSourceKube.Plural, "get", "list", "watch", "patch"),
        // status: server-side apply of the status subresource.
        Rule(PgSourceKube.Group, PgSourceKube.Plural + "/status", "patch"),
        // Owner references with blockOwnerDeletion on the per-source objects need update on the owner's finalizers.
        Rule(PgSourceKube.Group, PgSourceKube.Plural + "/finalizers", "update"),
        // The per-source objects: read, then server-side apply (which creates what is missing). The ServiceAccount and
        // RoleBinding go with the PostgresSource through their owner references; the Deployment and the uninstall Job are
        // deleted by the finalizer.
        Rule(string.Empty, "serviceaccounts", "get", "create", "patch"),
        Rule(RbacGroup, "rolebindings", "get", "create", "patch"),
        Rule("apps", "deployments", "get", "create", "patch", "delete"),
        Rule("batch", "jobs", "get", "create", "patch", "delete"),
        // The adapter's pods, to ask each for its state (GET /state on the pod IP).
        Rule(string.Empty, "pods", "list"),
        Rule("events.k8s.io", "events", "create"),
        // Sinks: a Service's existence, an Addressable's status.address.url, watched so a new address is followed at once.
        Rule(string.Empty, "services", "get"),
        Rule("eventing.knative.dev", "brokers", "get", "list", "watch"),
        Rule("messaging.knative.dev", "channels", "get", "list", "watch"),
        Rule("serving.knative.dev", "services", "get", "list", "watch"),
        // RoleBindings to the adapter's ClusterRole without holding its rights (RBAC escalation check).
        new V1PolicyRule { ApiGroups = [RbacGroup], Resources = ["clusterroles"], ResourceNames = [PgSourceKube.AdapterClusterRole], Verbs = ["bind"] },
    ];

    public static V1Namespace Namespace() => new()
    {
        ApiVersion = "v1",
        Kind = "Namespace",
        Metadata = new V1ObjectMeta
        {
            Name = PgSourceKube.ControllerNamespace,
            // The controller's pod meets the restricted Pod Security Standard; the namespace enforces it.
            Labels = new Dictionary<string, string>(Labels()) { ["pod-security.kubernetes.io/enforce"] = "restricted" },
        },
    };

    public static V1ClusterRole SourceObserverClusterRole() => new()
    {
        ApiVersion = $"{RbacGroup}/v1",
        Kind = "ClusterRole",
        Metadata = new V1ObjectMeta
        {
            Name = SourceObserverRole,
            Labels = new Dictionary<string, string>(Labels()) { [KnativeSourceDuckLabel] = "true" },
        },
        Rules = [Rule(PgSourceKube.Group, PgSourceKube.Plural, "get", "list", "watch")],
    };

    public static V1ClusterRole ControllerClusterRole() => new()
    {
        ApiVersion = $"{RbacGroup}/v1",
        Kind = "ClusterRole",
        Metadata = new V1ObjectMeta { Name = PgSourceKube.ControllerName, Labels = Labels() },
        Rules = ControllerRules(),
    };

    public static V1ServiceAccount ServiceAccount() => new()
    {
        ApiVersion = "v1",
        Kind = "ServiceAccount",
        Metadata = NamespacedMetadata(PgSourceKube.ControllerName),
    };

    public static V1ClusterRoleBinding ClusterRoleBinding() => new()
    {
        ApiVersion = $"{RbacGroup}/v1",
        Kind = "ClusterRoleBinding",
        Metadata = new V1ObjectMeta { Name = PgSourceKube.ControllerName, Labels = Labels() },
        RoleRef = new V1RoleRef { ApiGroup = RbacGroup, Kind = "ClusterRole", Name = PgSourceKube.ControllerName },
        Subjects = [Subject()],
    };

    /// <summary>Leader election: the Lease is read, created once, and renewed by replacing it.</summary>
    public static V1Role LeaderElectionRoleObject() => new()
    {
        ApiVersion = $"{RbacGroup}/v1",
        Kind = "Role",
        Metadata = NamespacedMetadata(LeaderElectionRole),
        Rules = [Rule("coordination.k8s.io", "leases", "get", "create", "update")],
    };

    public static V1RoleBinding LeaderElectionRoleBinding() => new()
    {
        ApiVersion = $"{RbacGroup}/v1",
        Kind = "RoleBinding",
        Metadata = NamespacedMetadata(LeaderElectionRole),
        RoleRef = new V1RoleRef { ApiGroup = RbacGroup, Kind = "Role", Name = LeaderElectionRole },
        Subjects = [Subject()],
    };

    public static V1Deployment Deployment(string controllerImage, string adapterImage)
    {
        var labels = Labels();
        var selector = new Dictionary<string, string>
        {
            [PgSourceKube.NameLabel] = PgSourceKube.ControllerName,
            [PgSourceKube.ComponentLabel] = PgSourceKube.ControllerComponent,
        };
        var pod = SourceObjects.PodSpec(PgSourceKube.ControllerName, new V1Container
        {
            Name = ContainerName,
            Image = controllerImage,
            // No arguments: the Lease's namespace and this replica's identity come from the downward API below,
            // every namespace is watched, and the HTTP port is the default.
            Env =
            [
                FieldEnv("POD_NAME", "metadata.name"),
                FieldEnv("POD_NAMESPACE", "metadata.namespace"),
                new V1EnvVar { Name = "PGSOURCE_ADAPTER_IMAGE", Value = adapterImage },
            ],
            Ports = SourceObjects.HttpPorts(),
            LivenessProbe = SourceObjects.LivenessProbe(),
            ReadinessProbe = SourceObjects.ReadinessProbe(),
            Resources = SourceObjects.Resources(),
            SecurityContext = SourceObjects.ContainerSecurity(),
            VolumeMounts = [new V1VolumeMount { Name = "tmp", MountPath = "/tmp" }],
        }, restartPolicy: null);
        // Replicas on different nodes where possible: a node failure then costs one lease duration, not a reschedule.
        pod.Affinity = new V1Affinity
        {
            PodAntiAffinity = new V1PodAntiAffinity
            {
                PreferredDuringSchedulingIgnoredDuringExecution =
                [
                    new V1WeightedPodAffinityTerm
                    {
                        Weight = 100,
                        PodAffinityTerm = new V1PodAffinityTerm
                        {
                            TopologyKey = "kubernetes.io/hostname",
                            LabelSelector = new V1LabelSelector { MatchLabels = selector },
                        },
                    },
                ],
            },
        };
        return new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = "Deployment",
            Metadata = NamespacedMetadata(PgSourceKube.ControllerName),
            Spec = new V1DeploymentSpec
            {
                Replicas = Replicas,
                Selector = new V1LabelSelector { MatchLabels = selector },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = labels, Annotations = SourceObjects.ScrapeAnnotations() },
                    Spec = pod,
                },
            },
        };
    }

    private static V1PolicyRule Rule(string group, string resource, params string[] verbs) =>
        new() { ApiGroups = [group], Resources = [resource], Verbs = verbs };

    private static V1ObjectMeta NamespacedMetadata(string name) =>
        new() { Name = name, NamespaceProperty = PgSourceKube.ControllerNamespace, Labels = Labels() };

    private static Rbacv1Subject Subject() =>
        new() { Kind = "ServiceAccount", Name = PgSourceKube.ControllerName, NamespaceProperty = PgSourceKube.ControllerNamespace };

    private static V1EnvVar FieldEnv(string name, string path) =>
        new() { Name = name, ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = path } } };
}
