using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using PostgresSource.Core.Hosting;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes;

/// <summary>
/// Runs the adapter's one-shot "uninstall" mode as a Job (it removes the source's function, triggers, journal or
/// slot) and waits for its outcome. Prune and the controller's finalizer both use it. The Job takes its image,
/// environment and ServiceAccount from the adapter Deployment, or from an earlier uninstall Job when retrying.
/// </summary>
internal sealed class UninstallJobRunner(ObjectWriter writer, SyncOptions options, Func<DateTimeOffset> clock)
{
    private readonly ObjectWriter _writer = writer;
    private readonly SyncOptions _options = options;
    private readonly Func<DateTimeOffset> _clock = clock;

    /// <summary>Runs the adapter's "uninstall" mode as a Job and waits for it; the answer to running it (WhatIf and Declined: not run).</summary>
    public async Task<Approval> RunAsync(string source, string @namespace, string sourceName, JsonObject from, JsonObject container, IReadOnlyList<JsonObject> waitForDeployments, CancellationToken cancellationToken)
    {
        var job = JobFor(@namespace, sourceName, from, container, _options.Image);
        var jobName = ObjectWriter.NameOf(job);

        var approval = _writer.Observer.Approve(new PlannedChange(source, ResourceType.Job.Kind, @namespace, jobName, ChangeVerb.Create, ["run the adapter with 'uninstall'"]));
        if (approval != Approval.Approved)
        {
            _writer.ReportNotApplied(source, ResourceType.Job.Kind, @namespace, jobName, ChangeVerb.Create, approval, ["run the adapter with 'uninstall'"]);
            return approval;
        }

        // The adapter must be stopped first: a Logical source's replication slot cannot be dropped while it is in use.
        var deadline = _clock() + _options.UninstallTimeout;
        foreach (var deployment in waitForDeployments)
        {
            while (await _writer.Api.GetAsync(ResourceType.Deployment, @namespace, ObjectWriter.NameOf(deployment), cancellationToken).ConfigureAwait(false) is not null)
            {
                if (_clock() >= deadline)
                {
                    throw new UninstallJobException($"The adapter Deployment {@namespace}/{ObjectWriter.NameOf(deployment)} of {source} was still being deleted after {_options.UninstallTimeout.TotalSeconds:0} s; the uninstall Job was not started. Run the prune again.");
                }
                await Task.Delay(_options.PollInterval, cancellationToken).ConfigureAwait(false);
            }
        }

        // An earlier Job of the same name (a failed attempt) is replaced.
        if (await _writer.Api.GetAsync(ResourceType.Job, @namespace, jobName, cancellationToken).ConfigureAwait(false) is not null)
        {
            await _writer.Api.DeleteAsync(ResourceType.Job, @namespace, jobName, foreground: true, cancellationToken).ConfigureAwait(false);
            while (await _writer.Api.GetAsync(ResourceType.Job, @namespace, jobName, cancellationToken).ConfigureAwait(false) is not null)
            {
                if (_clock() >= deadline)
                {
                    throw new UninstallJobException($"The earlier uninstall Job {@namespace}/{jobName} of {source} is still being deleted; run the prune again.");
                }
                await Task.Delay(_options.PollInterval, cancellationToken).ConfigureAwait(false);
            }
        }

        await _writer.Api.ApplyAsync(ResourceType.Job, job, force: true, cancellationToken).ConfigureAwait(false);
        _writer.Observer.Verbose($"Started Job {@namespace}/{jobName}: the adapter removes the database objects of {source}.");
        while (true)
        {
            var live = await _writer.Api.GetAsync(ResourceType.Job, @namespace, jobName, cancellationToken).ConfigureAwait(false);
            var state = StateOf(live);
            if (state == JobState.Succeeded)
            {
                _writer.Observer.Report(new ObjectChange(source, ResourceType.Job.Kind, @namespace, jobName, ChangeAction.Created, ["run the adapter with 'uninstall'"],
                    Message: "Completed: the adapter removed the source's database objects."));
                return Approval.Approved;
            }
            if (state == JobState.Failed)
            {
                throw new UninstallJobException(
                    $"The uninstall Job {@namespace}/{jobName} of {source} failed ({FailureOf(live)}). " +
                    "Its database objects may remain; its ServiceAccount, RoleBinding and PostgresSource are kept so the prune can be run again. See: kubectl logs job/" + jobName + " -n " + @namespace);
            }
            if (_clock() >= deadline)
            {
                throw new UninstallJobException(
                    $"The uninstall Job {@namespace}/{jobName} of {source} did not finish within {_options.UninstallTimeout.TotalSeconds:0} s. " +
                    "Its ServiceAccount, RoleBinding and PostgresSource are kept; check kubectl logs job/" + jobName + " -n " + @namespace);
            }
            await Task.Delay(_options.PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The uninstall Job for a source, from the workload it takes its image, environment and ServiceAccount from
    /// (the adapter Deployment, or an earlier uninstall Job); named after the Deployment.
    /// </summary>
    public static JsonObject JobFor(string @namespace, string sourceName, JsonObject from, JsonObject container, string fallbackImage)
    {
        var image = JsonTree.GetString(container, "image") ?? fallbackImage;
        var env = container["env"] is JsonArray array ? KubernetesJson.Deserialize<List<V1EnvVar>>(array.ToJsonString()) : [];
        var serviceAccount = JsonTree.GetString(from, "spec", "template", "spec", "serviceAccountName");
        var jobName = JsonTree.GetString(from, "kind") == ResourceType.Job.Kind ? ObjectWriter.NameOf(from) : SourceObjects.UninstallJobName(ObjectWriter.NameOf(from));
        // The uninstall connects as the adapter does: with the database CA it mounted, if any.
        var caVolume = env.Any(e => e.Name == AdapterSettings.DatabaseRootCertificate.Variable) && from["spec"]?["template"]?["spec"]?["volumes"] is JsonArray volumes
            ? volumes.OfType<JsonObject>().Where(v => JsonTree.GetString(v, "name") == SourceObjects.DatabaseCaVolumeName)
                .Select(v => KubernetesJson.Deserialize<V1Volume>(v.ToJsonString())).FirstOrDefault()
            : null;
        return JsonTree.ToJson(SourceObjects.UninstallJob(@namespace, jobName, sourceName, image, env, serviceAccount, caVolume));
    }

    public enum JobState { Missing, Running, Succeeded, Failed }

    public static JobState StateOf(JsonObject? job) =>
        job is null ? JobState.Missing
        : (JsonTree.GetInt64(job, "status", "succeeded") ?? 0) > 0 || SourceStatus.ConditionStatus(job, "Complete") == "True" ? JobState.Succeeded
        : SourceStatus.ConditionStatus(job, "Failed") == "True" ? JobState.Failed
        : JobState.Running;

    /// <summary>"BackoffLimitExceeded: Job has reached the specified backoff limit".</summary>
    public static string FailureOf(JsonObject? job)
    {
        var failed = SourceStatus.FindCondition(job, "Failed");
        return $"{JsonTree.GetString(failed, "reason")}: {JsonTree.GetString(failed, "message")}";
    }

    /// <summary>The adapter (or uninstall) container of a Deployment or Job.</summary>
    public static JsonObject? Container(JsonObject workload)
    {
        var containers = (JsonTree.Get(workload, "spec", "template", "spec", "containers") as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        return containers.FirstOrDefault(c => JsonTree.GetString(c, "name") is PgSourceKube.ContainerName or PgSourceKube.UninstallComponent) ?? containers.FirstOrDefault();
    }

    public static string? EnvironmentValue(JsonObject workload, string name) =>
        (Container(workload)?["env"] as JsonArray)?.OfType<JsonObject>()
            .Where(e => JsonTree.GetString(e, "name") == name).Select(e => JsonTree.GetString(e, "value")).FirstOrDefault();
}
