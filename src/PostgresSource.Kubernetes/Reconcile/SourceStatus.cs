using System.Globalization;
using System.Text.Json.Nodes;
using PostgresSource.Core.Sources;
using PostgresSource.Kubernetes.Manifests;

namespace PostgresSource.Kubernetes;

/// <summary>A status condition as Knative writes them.</summary>
internal sealed record Condition(string Type, string Status, string? Reason, string? Message)
{
    public static Condition True(string type) => new(type, "True", null, null);
}

/// <summary>
/// A PostgresSource's status from what reconciling found: conditions SinkProvided, Deployed, Ready (and
/// DeadLetterSinkResolved when there is a dead-letter sink), observedGeneration, sinkUri, ceAttributes, and the
/// adapter's own report when the controller has one. Pure: the same inputs give the same status, and
/// <see cref="Build"/> lists what differs from the live status, so an unchanged source is not written.
/// </summary>
internal static class SourceStatus
{
    public sealed record Inputs(
        SourceDefinition Source,
        JsonObject Current,
        SinkResolver.Resolution? Sink,
        Exception? SinkError,
        bool HasDeadLetterSink,
        SinkResolver.Resolution? DeadLetterSink,
        Exception? DeadLetterError,
        JsonObject? LiveDeployment,
        bool DeploymentWanted,
        bool DeploymentChanges,
        AdapterObservation? Adapter,
        DateTimeOffset Now);

    public sealed record Result(JsonObject Status, Condition Ready, IReadOnlyList<string> Changes, bool HadConditions);

    public static Result Build(Inputs input)
    {
        var liveStatus = input.Current["status"] as JsonObject;
        var sinkProvided = input.SinkError is null
            ? Condition.True("SinkProvided")
            : new Condition("SinkProvided", "False", "SinkNotFound", input.SinkError.Message);
        Condition? deadLetterResolved = !input.HasDeadLetterSink ? null
            : input.DeadLetterError is null
                ? Condition.True("DeadLetterSinkResolved")
                : new Condition("DeadLetterSinkResolved", "False", "DeadLetterSinkNotFound", input.DeadLetterError.Message);
        var deployed = Deployed(input);
        var adapter = AdapterCondition(input.Adapter, deployed);

        var dependents = new List<Condition> { deployed, sinkProvided };
        if (deadLetterResolved is not null)
        {
            dependents.Add(deadLetterResolved);
        }
        if (adapter is not null)
        {
            dependents.Add(adapter);
        }
        var notTrue = dependents.FirstOrDefault(c => c.Status == "False") ?? dependents.FirstOrDefault(c => c.Status == "Unknown");
        var ready = notTrue is null ? Condition.True("Ready") : new Condition("Ready", notTrue.Status, notTrue.Reason, notTrue.Message);

        var liveConditions = (liveStatus?["conditions"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        var generation = JsonTree.GetInt64(input.Current, "metadata", "generation");
        var now = input.Now.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

        var changes = new List<string>();
        var written = new List<Condition> { deployed, ready, sinkProvided };
        if (deadLetterResolved is not null)
        {
            written.Add(deadLetterResolved);
        }
        else if (liveConditions.Any(c => JsonTree.GetString(c, "type") == "DeadLetterSinkResolved"))
        {
            changes.Add("status.conditions[DeadLetterSinkResolved] (removed)");
        }
        var conditions = new JsonArray();
        foreach (var condition in written)
        {
            var live = liveConditions.FirstOrDefault(c => JsonTree.GetString(c, "type") == condition.Type);
            var same = live is not null && JsonTree.GetString(live, "status") == condition.Status;
            if (live is null || !same || JsonTree.GetString(live, "reason") != condition.Reason || JsonTree.GetString(live, "message") != condition.Message)
            {
                changes.Add($"status.conditions[{condition.Type}]");
            }
            var node = new JsonObject { ["type"] = condition.Type, ["status"] = condition.Status };
            if (condition.Reason is not null)
            {
                node["reason"] = condition.Reason;
            }
            if (condition.Message is not null)
            {
                node["message"] = condition.Message;
            }
            node["lastTransitionTime"] = same ? JsonTree.GetString(live, "lastTransitionTime") ?? now : now;
            conditions.Add(node);
        }

        var status = new JsonObject();
        if (generation is not null)
        {
            status["observedGeneration"] = generation;
        }
        status["conditions"] = conditions;
        // Knative's SourceStatus (sinkUri, sinkCACerts, sinkAudience) and DeliveryStatus (deadLetterSink*) fields.
        Set(status, changes, liveStatus, "sinkUri", input.Sink?.Uri);
        Set(status, changes, liveStatus, "sinkCACerts", input.Sink?.CaCerts);
        Set(status, changes, liveStatus, "sinkAudience", input.Sink?.Audience);
        Set(status, changes, liveStatus, "deadLetterSinkUri", input.DeadLetterSink?.Uri);
        Set(status, changes, liveStatus, "deadLetterSinkCACerts", input.DeadLetterSink?.CaCerts);
        Set(status, changes, liveStatus, "deadLetterSinkAudience", input.DeadLetterSink?.Audience);
        if (JsonTree.GetInt64(liveStatus, "observedGeneration") != generation)
        {
            changes.Add("status.observedGeneration");
        }

        // Knative's source duck type: what the source emits, so the event-type registry can list it.
        status["ceAttributes"] = new JsonArray(new JsonObject { ["type"] = input.Source.EventType, ["source"] = input.Source.EventSource });
        if (!JsonTree.DeepEquals(status["ceAttributes"], liveStatus?["ceAttributes"]))
        {
            changes.Add("status.ceAttributes");
        }

        if (input.Adapter?.State is { } state)
        {
            status["adapter"] = AdapterNode(state);
        }
        if (input.Adapter is not null && !JsonTree.DeepEquals(status["adapter"], liveStatus?["adapter"]))
        {
            changes.Add("status.adapter");
        }
        else if (input.Adapter is null && liveStatus?["adapter"] is not null)
        {
            // Cluster sync has no report of its own: it keeps the controller's rather than erasing it.
            status["adapter"] = liveStatus["adapter"]!.DeepClone();
        }

        return new Result(status, ready, changes, liveConditions.Count > 0);
    }

    /// <summary>Sets status.<paramref name="field"/> when there is a value, and lists it when it differs from the live one.</summary>
    private static void Set(JsonObject status, List<string> changes, JsonObject? liveStatus, string field, string? desired)
    {
        if (desired is not null)
        {
            status[field] = desired;
        }
        if (JsonTree.GetString(liveStatus, field) != desired)
        {
            changes.Add("status." + field);
        }
    }

    private static Condition Deployed(Inputs input)
    {
        var objectName = SourceObjects.ObjectName(input.Source);
        var progressing = new Condition("Deployed", "Unknown", "DeploymentProgressing", $"The adapter Deployment {objectName} is not available yet.");
        var live = input.LiveDeployment;
        if (!input.DeploymentWanted)
        {
            return new Condition("Deployed", "Unknown", "NotDeployed", input.HasDeadLetterSink
                ? "The adapter is deployed once the sink and the dead-letter sink resolve."
                : "The adapter is deployed once the sink resolves.");
        }
        var available = (JsonTree.GetInt64(live, "status", "availableReplicas") ?? 0) > 0;
        if (live is null || input.DeploymentChanges || FindCondition(live, "Available") is null ||
            (JsonTree.GetInt64(live, "status", "observedGeneration") ?? 0) < (JsonTree.GetInt64(live, "metadata", "generation") ?? 0))
        {
            // Being created or updated, or its controller has not looked at it yet.
            return available && !input.DeploymentChanges ? Condition.True("Deployed") : progressing;
        }
        return available
            ? Condition.True("Deployed")
            : new Condition("Deployed", "False", "DeploymentUnavailable", $"The adapter Deployment {objectName} has no available replica.");
    }

    /// <summary>What the adapter's report adds to Ready (only once the Deployment is up; before that, Deployed speaks).</summary>
    private static Condition? AdapterCondition(AdapterObservation? observation, Condition deployed)
    {
        if (observation is null || deployed.Status != "True")
        {
            return null;
        }
        if (observation.State is not { } state)
        {
            return new Condition("Adapter", "Unknown", "AdapterNotReporting", observation.Problem ?? "The adapter has not reported its state yet.");
        }
        if (!state.Connected)
        {
            return new Condition("Adapter", "False", "AdapterNotConnected",
                "The adapter is not connected to the database and capturing" + (state.LastDeliveryError is null ? "." : ": " + state.LastDeliveryError));
        }
        return state.Sink is "down" or "refusing"
            ? new Condition("Adapter", "False", "SinkUnavailable", $"The sink is {state.Sink}" + (state.LastDeliveryError is null ? "." : ": " + state.LastDeliveryError))
            : null;
    }

    private static JsonObject AdapterNode(Core.Hosting.AdapterState state)
    {
        var node = new JsonObject { ["connected"] = state.Connected, ["mode"] = state.Mode, ["sink"] = state.Sink };
        if (state.BacklogRows is { } rows)
        {
            node["backlogRows"] = rows;
        }
        if (state.SlotLagBytes is { } lag)
        {
            node["slotLagBytes"] = lag;
        }
        if (state.LastDeliveryError is { } error)
        {
            node["lastDeliveryError"] = error;
        }
        if (state.LastDeliveryErrorTime is { } time)
        {
            node["lastDeliveryErrorTime"] = time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        }
        return node;
    }

    /// <summary>
    /// The live status with its Ready condition set (for states the reconciler does not see: a spec that cannot be
    /// read, a deletion in progress); null when it already says so.
    /// </summary>
    public static JsonObject? WithReady(JsonObject current, Condition ready, DateTimeOffset now)
    {
        var status = current["status"] is JsonObject live ? (JsonObject)live.DeepClone() : new JsonObject();
        var conditions = (status["conditions"] as JsonArray)?.OfType<JsonObject>().Select(c => (JsonObject)c.DeepClone()).ToList() ?? [];
        var old = conditions.FirstOrDefault(c => JsonTree.GetString(c, "type") == ready.Type);
        if (old is not null && JsonTree.GetString(old, "status") == ready.Status && JsonTree.GetString(old, "reason") == ready.Reason && JsonTree.GetString(old, "message") == ready.Message)
        {
            return null;
        }
        var node = new JsonObject { ["type"] = ready.Type, ["status"] = ready.Status };
        if (ready.Reason is not null)
        {
            node["reason"] = ready.Reason;
        }
        if (ready.Message is not null)
        {
            node["message"] = ready.Message;
        }
        node["lastTransitionTime"] = old is not null && JsonTree.GetString(old, "status") == ready.Status
            ? JsonTree.GetString(old, "lastTransitionTime")
            : now.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        conditions.RemoveAll(c => JsonTree.GetString(c, "type") == ready.Type);
        conditions.Add(node);
        status["conditions"] = new JsonArray(conditions.Select(c => (JsonNode)c).ToArray());
        return status;
    }

    /// <summary>The Ready condition of a live object (Unknown when it has none yet).</summary>
    public static Condition ReadyOf(JsonObject? item)
    {
        var ready = FindCondition(item, "Ready");
        return new Condition("Ready", JsonTree.GetString(ready, "status") ?? "Unknown", JsonTree.GetString(ready, "reason"), JsonTree.GetString(ready, "message"));
    }

    public static JsonObject? FindCondition(JsonObject? item, string type) =>
        (JsonTree.Get(item, "status", "conditions") as JsonArray)?.OfType<JsonObject>().FirstOrDefault(c => JsonTree.GetString(c, "type") == type);

    public static string? ConditionStatus(JsonObject? item, string type) => JsonTree.GetString(FindCondition(item, type), "status");
}
