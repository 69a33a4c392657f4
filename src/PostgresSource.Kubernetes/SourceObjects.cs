using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s.Models;
using PostgresSource.Core.Naming;
using PostgresSource.Core.Hosting;
using PostgresSource.Core.Sources;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes;

/// <summary>
/// Builds the objects a source needs in a cluster, as the seed makes them: the PostgresSource itself, a
/// ServiceAccount (unless spec.serviceAccountName), a RoleBinding to the adapter ClusterRole, and the adapter
/// Deployment. Names follow the seed's ChildName rule from the source's name and UID; without a UID (offline)
/// the names are "postgressource-&lt;name&gt;". Every object gets an owner reference to the PostgresSource when the
/// UID is known, so deleting the source deletes them.
/// </summary>
internal static class SourceObjects
{
    /// <summary>The name shared by the ServiceAccount, RoleBinding and Deployment of a source.</summary>
    public static string ObjectName(SourceDefinition source) => SourceObjectNames.KubernetesName(source.Name, source.Uid);

    /// <summary>The Secret used when the source names none: "postgressource-&lt;name&gt;" (independent of the UID).</summary>
    public static string SecretName(SourceDefinition source) =>
        source.SecretName ?? SourceObjectNames.KubernetesName(source.Name, null);

    public static string ServiceAccountName(SourceDefinition source) => source.ServiceAccountName ?? ObjectName(source);

    /// <summary>A label value for a source name (names longer than 63 characters are shortened by the ChildName rule).</summary>
    public static string LabelValue(string sourceName) =>
        sourceName.Length <= ChildName.Longest ? sourceName : ChildName.Make(sourceName, string.Empty);

    /// <summary>The labels every per-source object carries; -Prune selects on the source and managed-by labels.</summary>
    public static Dictionary<string, string> Labels(string sourceName, string component = PgSourceKube.AdapterComponent) => new()
    {
        [PgSourceKube.NameLabel] = "postgressource-adapter",
        [PgSourceKube.InstanceLabel] = LabelValue(sourceName),
        [PgSourceKube.ComponentLabel] = component,
        [PgSourceKube.PartOfLabel] = "postgressource",
        [PgSourceKube.ManagedByLabel] = PgSourceKube.ManagedByValue,
        [PgSourceKube.SourceLabel] = LabelValue(sourceName),
    };

    public static IList<V1OwnerReference>? OwnerReferences(SourceDefinition source) =>
        source.Uid is null
            ? null
            : [new V1OwnerReference
            {
                ApiVersion = PgSourceKube.ApiVersion,
                Kind = PgSourceKube.Kind,
                Name = source.Name,
                Uid = source.Uid,
                Controller = true,
                BlockOwnerDeletion = true,
            }];

    /// <summary>The PostgresSource resource (apply body): seed-shaped spec; mode, eventType and delivery only when not the defaults.</summary>
    public static JsonObject CustomResource(SourceDefinition source)
    {
        var spec = new JsonObject
        {
            ["tables"] = new JsonArray(source.Tables.Select(t => (JsonNode)TableEntries.Write(t, source.FilterFor(t))).ToArray()),
            ["secret"] = new JsonObject { ["name"] = SecretName(source) },
        };
        if (source.Sink is { } sink)
        {
            spec["sink"] = Destination(sink);
        }
        if (source.CeOverrideExtensions.Count > 0)
        {
            var extensions = new JsonObject();
            foreach (var (key, value) in source.CeOverrideExtensions.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                extensions[key] = value;
            }
            spec["ceOverrides"] = new JsonObject { ["extensions"] = extensions };
        }
        if (source.ServiceAccountName is not null)
        {
            spec["serviceAccountName"] = source.ServiceAccountName;
        }
        if (source.DatabaseCaCert is { } ca)
        {
            spec["database"] = new JsonObject { ["caCertSecret"] = new JsonObject { ["name"] = ca.Name, ["key"] = ca.Key } };
        }
        if (source.Mode != CaptureMode.Notify)
        {
            spec["mode"] = source.Mode.ToString();
        }
        if (source.EventType != SourceDefinition.DefaultEventType)
        {
            spec["eventType"] = source.EventType;
        }
        if (source.Delivery is { IsEmpty: false } delivery)
        {
            spec["delivery"] = DeliveryNode(delivery);
        }

        return new JsonObject
        {
            ["apiVersion"] = PgSourceKube.ApiVersion,
            ["kind"] = PgSourceKube.Kind,
            ["metadata"] = new JsonObject
            {
                ["name"] = source.Name,
                ["namespace"] = source.Namespace,
                ["labels"] = new JsonObject { [PgSourceKube.ManagedByLabel] = PgSourceKube.ManagedByValue },
            },
            ["spec"] = spec,
        };
    }

    /// <summary>A Knative Destination as spec.sink and spec.delivery.deadLetterSink carry it: ref and/or uri.</summary>
    private static JsonObject Destination(SinkReference sink)
    {
        var node = new JsonObject();
        if (sink.IsRef)
        {
            var reference = new JsonObject
            {
                ["apiVersion"] = sink.RefApiVersion,
                ["kind"] = sink.RefKind,
                ["name"] = sink.RefName,
            };
            if (sink.RefNamespace is not null)
            {
                reference["namespace"] = sink.RefNamespace;
            }
            node["ref"] = reference;
        }
        if (sink.Uri is not null)
        {
            node["uri"] = sink.Uri.OriginalString;
        }
        if (sink.CaCerts is not null)
        {
            node["CACerts"] = sink.CaCerts;
        }
        if (sink.Audience is not null)
        {
            node["audience"] = sink.Audience;
        }
        return node;
    }

    /// <summary>spec.delivery: only the fields that are set.</summary>
    private static JsonObject DeliveryNode(SourceDelivery delivery)
    {
        var node = new JsonObject();
        if (delivery.OnUndeliverable is { } action)
        {
            node["onUndeliverable"] = SourceDelivery.ToText(action);
        }
        if (delivery.Ordering is { } order)
        {
            node["ordering"] = SourceDelivery.ToText(order);
        }
        if (delivery.MaxInFlight is { } inFlight)
        {
            node["maxInFlight"] = inFlight;
        }
        if (delivery.Retry is { } retry)
        {
            node["retry"] = retry;
        }
        if (delivery.RetryTime is { } time)
        {
            node["retryTime"] = SourceDelivery.FormatDuration(time);
        }
        if (delivery.DeadLetterSink is { } deadLetter)
        {
            node["deadLetterSink"] = Destination(deadLetter);
        }
        return node;
    }

    public static V1ServiceAccount? ServiceAccount(SourceDefinition source) =>
        source.ServiceAccountName is not null
            ? null
            : new V1ServiceAccount
            {
                ApiVersion = "v1",
                Kind = "ServiceAccount",
                Metadata = Metadata(source, ObjectName(source)),
            };

    public static V1RoleBinding RoleBinding(SourceDefinition source) => new()
    {
        ApiVersion = "rbac.authorization.k8s.io/v1",
        Kind = "RoleBinding",
        Metadata = Metadata(source, ObjectName(source)),
        RoleRef = new V1RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "ClusterRole", Name = PgSourceKube.AdapterClusterRole },
        Subjects = [new Rbacv1Subject { Kind = "ServiceAccount", Name = ServiceAccountName(source), NamespaceProperty = source.Namespace }],
    };

    /// <summary>The ClusterRole the RoleBindings point at: the adapter may read ConfigMaps (logging, observability).</summary>
    public static V1ClusterRole AdapterClusterRole() => new()
    {
        ApiVersion = "rbac.authorization.k8s.io/v1",
        Kind = "ClusterRole",
        Metadata = new V1ObjectMeta
        {
            Name = PgSourceKube.AdapterClusterRole,
            Labels = new Dictionary<string, string>
            {
                [PgSourceKube.ManagedByLabel] = PgSourceKube.ManagedByValue,
                [PgSourceKube.PartOfLabel] = "postgressource",
            },
        },
        Rules = [new V1PolicyRule { ApiGroups = [""], Resources = ["configmaps"], Verbs = ["get", "list", "watch"] }],
    };

    /// <summary>
    /// The adapter's environment (the adapter contract). The connection string is a reference to the Secret's
    /// 'connectionstr' key, never its value.
    /// </summary>
    /// <param name="deadLetterSinkUri">spec.delivery.deadLetterSink resolved (PGSOURCE_DEAD_LETTER_SINK); null when the source has none.</param>
    public static List<V1EnvVar> AdapterEnvironment(SourceDefinition source, string sinkUri, string? deadLetterSinkUri = null) =>
        AdapterEnvironment(source, new SinkResolver.Resolution(sinkUri, null), deadLetterSinkUri is null ? null : new SinkResolver.Resolution(deadLetterSinkUri, null));

    /// <summary>
    /// The adapter's environment from the resolved sinks: with the sink's CA certificates K_CA_CERTS, with its OIDC
    /// audience K_AUDIENCE and the projected token's file (see <see cref="SinkTokenVolume"/>); the dead-letter sink's likewise.
    /// </summary>
    public static List<V1EnvVar> AdapterEnvironment(SourceDefinition source, SinkResolver.Resolution sink, SinkResolver.Resolution? deadLetterSink)
    {
        var env = new List<V1EnvVar> { Env(AdapterSettings.Sink.Variable, sink.Uri) };
        if (sink.CaCerts is not null)
        {
            env.Add(Env(AdapterSettings.CaCerts.Variable, sink.CaCerts));
        }
        if (sink.Audience is not null)
        {
            env.Add(Env(AdapterSettings.Audience.Variable, sink.Audience));
            env.Add(Env(AdapterSettings.SinkTokenFile.Variable, SinkTokenFile));
        }
        if (source.CeOverrideExtensions.Count > 0)
        {
            env.Add(Env(AdapterSettings.CeOverrides.Variable, CeOverridesJson(source)));
        }
        env.Add(Env(AdapterSettings.Channel.Variable, source.DatabaseObjectName));
        env.Add(Env(AdapterSettings.EventSource.Variable, source.EventSource));
        env.Add(Env(AdapterSettings.Namespace.Variable, source.Namespace));
        env.Add(Env(AdapterSettings.Name.Variable, source.Name));
        if (source.Uid is not null)
        {
            env.Add(Env(AdapterSettings.Uid.Variable, source.Uid));
        }
        env.Add(Env(AdapterSettings.Tables.Variable, TableName.FormatList(source.Tables)));
        if (TableEntries.FormatFilters(source) is { } filters)
        {
            env.Add(Env(AdapterSettings.TableFilters.Variable, filters));
        }
        env.Add(Env(AdapterSettings.Mode.Variable, source.Mode.ToString()));
        if (source.EventType != SourceDefinition.DefaultEventType)
        {
            env.Add(Env(AdapterSettings.EventType.Variable, source.EventType));
        }
        env.AddRange(DeliveryEnvironment(source.Delivery, deadLetterSink));
        env.Add(new V1EnvVar
        {
            Name = AdapterSettings.Connection.Variable,
            ValueFrom = new V1EnvVarSource
            {
                SecretKeyRef = new V1SecretKeySelector { Name = SecretName(source), Key = PgSourceKube.ConnectionSecretKey },
            },
        });
        if (source.DatabaseCaCert is not null)
        {
            env.Add(Env(AdapterSettings.DatabaseRootCertificate.Variable, DatabaseCaFile));
        }
        env.Add(Env(AdapterSettings.HttpPort.Variable, PgSourceKube.HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return env;
    }

    /// <summary>
    /// The adapter variables for spec.delivery, each only when its field is set (the adapter's defaults otherwise).
    /// retry counts retries, as Knative's; PGSOURCE_DELIVERY_ATTEMPTS counts attempts in all, so it is retry + 1.
    /// </summary>
    public static IEnumerable<V1EnvVar> DeliveryEnvironment(SourceDelivery? delivery, SinkResolver.Resolution? deadLetterSink)
    {
        if (delivery?.DeadLetterSink is not null && deadLetterSink is null)
        {
            throw new ArgumentNullException(nameof(deadLetterSink), "The source has a dead-letter sink: resolve it first.");
        }
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        if (deadLetterSink is not null)
        {
            yield return Env(AdapterSettings.DeadLetterSink.Variable, deadLetterSink.Uri);
            if (deadLetterSink.CaCerts is not null)
            {
                yield return Env(AdapterSettings.DeadLetterSinkCaCerts.Variable, deadLetterSink.CaCerts);
            }
            if (deadLetterSink.Audience is not null)
            {
                yield return Env(AdapterSettings.DeadLetterSinkTokenFile.Variable, DeadLetterSinkTokenFile);
            }
        }
        if (delivery is null)
        {
            yield break;
        }
        if (delivery.MaxAttempts is { } attempts)
        {
            yield return Env(AdapterSettings.DeliveryAttempts.Variable, attempts.ToString(invariant));
        }
        if (delivery.RetryTime is { } time)
        {
            yield return Env(AdapterSettings.DeliveryMaxRetryTime.Variable, SourceDelivery.FormatDuration(time));
        }
        if (delivery.OnUndeliverable is { } action)
        {
            yield return Env(AdapterSettings.OnUndeliverable.Variable, SourceDelivery.ToText(action));
        }
        if (delivery.Ordering is { } order)
        {
            yield return Env(AdapterSettings.Ordering.Variable, SourceDelivery.ToText(order));
        }
        if (delivery.MaxInFlight is { } inFlight)
        {
            yield return Env(AdapterSettings.MaxInFlight.Variable, inFlight.ToString(invariant));
        }
    }

    /// <summary>K_CE_OVERRIDES as Knative sources read it: {"extensions":{...}}.</summary>
    public static string CeOverridesJson(SourceDefinition source) =>
        JsonSerializer.Serialize(new Dictionary<string, SortedDictionary<string, string>>
        {
            ["extensions"] = new(source.CeOverrideExtensions.ToDictionary(p => p.Key, p => p.Value), StringComparer.Ordinal),
        });

    public static V1Deployment Deployment(SourceDefinition source, string sinkUri, string image, string? deadLetterSinkUri = null) =>
        Deployment(source, new SinkResolver.Resolution(sinkUri, null), image, deadLetterSinkUri is null ? null : new SinkResolver.Resolution(deadLetterSinkUri, null));

    /// <summary>
    /// The adapter Deployment for the resolved sinks. A sink's CA certificates or audience is in the pod template (env, and
    /// the projected token's audience), so a change of either rolls the Deployment.
    /// </summary>
    public static V1Deployment Deployment(SourceDefinition source, SinkResolver.Resolution sink, string image, SinkResolver.Resolution? deadLetterSink)
    {
        var tokens = SinkTokenVolume(sink.Audience, deadLetterSink?.Audience);
        var labels = Labels(source.Name);
        return new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = "Deployment",
            Metadata = Metadata(source, ObjectName(source)),
            Spec = new V1DeploymentSpec
            {
                // One active adapter per source: never two during a rollout.
                Replicas = 1,
                Strategy = new V1DeploymentStrategy { Type = "Recreate" },
                Selector = new V1LabelSelector
                {
                    MatchLabels = new Dictionary<string, string>
                    {
                        [PgSourceKube.SourceLabel] = labels[PgSourceKube.SourceLabel],
                        [PgSourceKube.ComponentLabel] = PgSourceKube.AdapterComponent,
                    },
                },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta
                    {
                        Labels = labels,
                        Annotations = ScrapeAnnotations(),
                    },
                    Spec = PodSpec(ServiceAccountName(source), new V1Container
                    {
                        Name = PgSourceKube.ContainerName,
                        Image = image,
                        Env = AdapterEnvironment(source, sink, deadLetterSink),
                        Ports = HttpPorts(),
                        LivenessProbe = LivenessProbe(),
                        ReadinessProbe = ReadinessProbe(),
                        Resources = Resources(),
                        SecurityContext = ContainerSecurity(),
                        VolumeMounts =
                        [
                            new V1VolumeMount { Name = "tmp", MountPath = "/tmp" }, .. DatabaseCaMounts(source.DatabaseCaCert is not null),
                            .. tokens is null ? [] : new[] { new V1VolumeMount { Name = SinkTokenVolumeName, MountPath = SinkTokenDirectory, ReadOnlyProperty = true } },
                        ],
                    }, restartPolicy: null, DatabaseCaVolume(source.DatabaseCaCert), tokens),
                },
            },
        };
    }

    /// <summary>
    /// The one-shot Job that runs the adapter with argument "uninstall" (it removes the source's function,
    /// triggers, journal or slot). Built from the live Deployment's image, environment and ServiceAccount.
    /// </summary>
    /// <param name="databaseCaVolume">The live Deployment's database CA volume, when its env points at the mounted file.</param>
    public static V1Job UninstallJob(string @namespace, string jobName, string sourceName, string image, IList<V1EnvVar> env, string? serviceAccountName,
        V1Volume? databaseCaVolume = null)
    {
        var labels = Labels(sourceName, PgSourceKube.UninstallComponent);
        return new V1Job
        {
            ApiVersion = "batch/v1",
            Kind = "Job",
            Metadata = new V1ObjectMeta { Name = jobName, NamespaceProperty = @namespace, Labels = labels },
            Spec = new V1JobSpec
            {
                BackoffLimit = 2,
                TtlSecondsAfterFinished = 3600,
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = labels },
                    Spec = PodSpec(serviceAccountName, new V1Container
                    {
                        Name = PgSourceKube.UninstallComponent,
                        Image = image,
                        Args = ["uninstall"],
                        Env = env,
                        Resources = Resources(),
                        SecurityContext = ContainerSecurity(),
                        VolumeMounts = [new V1VolumeMount { Name = "tmp", MountPath = "/tmp" }, .. DatabaseCaMounts(databaseCaVolume is not null)],
                    }, restartPolicy: "Never", databaseCaVolume),
                },
            },
        };
    }

    public static string UninstallJobName(string deploymentName) => ChildName.Make(deploymentName + "-", "uninstall");

    /// <summary>A Secret holding the connection string (only ever built when the user asks for one).</summary>
    public static V1Secret ConnectionSecret(SourceDefinition source, string connectionString) => new()
    {
        ApiVersion = "v1",
        Kind = "Secret",
        Type = "Opaque",
        Metadata = new V1ObjectMeta
        {
            Name = SecretName(source),
            NamespaceProperty = source.Namespace,
            Labels = new Dictionary<string, string>
            {
                [PgSourceKube.PartOfLabel] = "postgressource",
                [PgSourceKube.SourceLabel] = LabelValue(source.Name),
            },
        },
        StringData = new Dictionary<string, string> { [PgSourceKube.ConnectionSecretKey] = connectionString },
    };

    private static V1EnvVar Env(string name, string value) => new() { Name = name, Value = value };

    private static V1ObjectMeta Metadata(SourceDefinition source, string name) => new()
    {
        Name = name,
        NamespaceProperty = source.Namespace,
        Labels = Labels(source.Name),
        OwnerReferences = OwnerReferences(source),
    };

    /// <summary>The volume that holds spec.database.caCertSecret in the adapter's pod.</summary>
    public const string DatabaseCaVolumeName = "database-ca";

    /// <summary>Where the adapter reads the database root certificate (PGSOURCE_DB_ROOT_CERT); the Secret's key is mapped to this file.</summary>
    public const string DatabaseCaFile = "/etc/pgsource/database-ca/ca.crt";

    private static V1Volume? DatabaseCaVolume(SecretKeyReference? ca) => ca is null
        ? null
        : new V1Volume
        {
            Name = DatabaseCaVolumeName,
            Secret = new V1SecretVolumeSource
            {
                SecretName = ca.Name,
                Items = [new V1KeyToPath { Key = ca.Key, Path = Path.GetFileName(DatabaseCaFile) }],
            },
        };

    private static IEnumerable<V1VolumeMount> DatabaseCaMounts(bool present) => present
        ? [new V1VolumeMount { Name = DatabaseCaVolumeName, MountPath = Path.GetDirectoryName(DatabaseCaFile)!, ReadOnlyProperty = true }]
        : [];

    /// <summary>Prometheus scrape annotations for a pod serving /metrics on the HTTP port (the adapter, the controller).</summary>
    public static Dictionary<string, string> ScrapeAnnotations() => new()
    {
        ["prometheus.io/scrape"] = "true",
        ["prometheus.io/port"] = PgSourceKube.HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["prometheus.io/path"] = PgSourceKube.MetricsPath,
    };

    /// <summary>The one container port, named "http", of the adapter and the controller.</summary>
    public static List<V1ContainerPort> HttpPorts() => [new V1ContainerPort { Name = "http", ContainerPort = PgSourceKube.HttpPort, Protocol = "TCP" }];

    public static V1Probe LivenessProbe() => new()
    {
        HttpGet = new V1HTTPGetAction { Path = PgSourceKube.LivenessPath, Port = PgSourceKube.HttpPort },
        InitialDelaySeconds = 10,
        PeriodSeconds = 10,
        TimeoutSeconds = 5,
        FailureThreshold = 6,
    };

    public static V1Probe ReadinessProbe() => new()
    {
        HttpGet = new V1HTTPGetAction { Path = PgSourceKube.ReadinessPath, Port = PgSourceKube.HttpPort },
        PeriodSeconds = 5,
        TimeoutSeconds = 5,
    };

    /// <summary>A restricted-profile pod (non-root 65532, RuntimeDefault seccomp) with a writable /tmp and the given container.</summary>
    /// <summary>The projected volume with the sinks' service account tokens.</summary>
    public const string SinkTokenVolumeName = "sink-token";

    /// <summary>Where the projected tokens are mounted; the kubelet keeps them fresh there.</summary>
    public const string SinkTokenDirectory = "/var/run/secrets/pgsource/sink";

    /// <summary>The token for the sink's audience (PGSOURCE_SINK_TOKEN_FILE).</summary>
    public const string SinkTokenFile = SinkTokenDirectory + "/token";

    /// <summary>The token for the dead-letter sink's audience (PGSOURCE_DEAD_LETTER_SINK_TOKEN_FILE).</summary>
    public const string DeadLetterSinkTokenFile = SinkTokenDirectory + "/dead-letter-token";

    /// <summary>How long a projected token is valid; the kubelet replaces it well before (at 80 % of this).</summary>
    public const long SinkTokenExpirationSeconds = 3600;

    /// <summary>
    /// A projected volume with a service account token per audience (the pod's ServiceAccount, audience-bound), or null
    /// when no sink has an audience. The kubelet requests and rotates the tokens, so the adapter needs no RBAC for it.
    /// </summary>
    public static V1Volume? SinkTokenVolume(string? sinkAudience, string? deadLetterSinkAudience)
    {
        var sources = new List<V1VolumeProjection>();
        if (sinkAudience is not null)
        {
            sources.Add(TokenProjection(sinkAudience, SinkTokenFile));
        }
        if (deadLetterSinkAudience is not null)
        {
            sources.Add(TokenProjection(deadLetterSinkAudience, DeadLetterSinkTokenFile));
        }
        return sources.Count == 0 ? null : new V1Volume { Name = SinkTokenVolumeName, Projected = new V1ProjectedVolumeSource { Sources = sources } };
    }

    private static V1VolumeProjection TokenProjection(string audience, string file) => new()
    {
        ServiceAccountToken = new V1ServiceAccountTokenProjection
        {
            Audience = audience,
            ExpirationSeconds = SinkTokenExpirationSeconds,
            Path = Path.GetFileName(file),
        },
    };

    public static V1PodSpec PodSpec(string? serviceAccountName, V1Container container, string? restartPolicy, params V1Volume?[] extraVolumes) => new()
    {
        ServiceAccountName = serviceAccountName,
        RestartPolicy = restartPolicy,
        SecurityContext = new V1PodSecurityContext
        {
            RunAsNonRoot = true,
            RunAsUser = 65532,
            RunAsGroup = 65532,
            SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
        },
        Containers = [container],
        Volumes = [new V1Volume { Name = "tmp", EmptyDir = new V1EmptyDirVolumeSource() }, .. extraVolumes.OfType<V1Volume>()],
    };

    public static V1ResourceRequirements Resources() => new()
    {
        Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("50m"), ["memory"] = new("64Mi") },
        Limits = new Dictionary<string, ResourceQuantity> { ["memory"] = new("256Mi") },
    };

    /// <summary>No privilege escalation, read-only root filesystem, non-root, every capability dropped.</summary>
    public static V1SecurityContext ContainerSecurity() => new()
    {
        AllowPrivilegeEscalation = false,
        ReadOnlyRootFilesystem = true,
        RunAsNonRoot = true,
        Capabilities = new V1Capabilities { Drop = ["ALL"] },
        SeccompProfile = new V1SeccompProfile { Type = "RuntimeDefault" },
    };
}
