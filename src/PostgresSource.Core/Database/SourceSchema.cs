using System.Globalization;
using System.Text;
using Npgsql;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Capture;

namespace PostgresSource.Core.Database;

/// <summary>Entry point for installing and removing a source's database objects, whatever its mode.</summary>
internal static class SourceSchema
{
    /// <summary>Opens a transaction, takes the source's advisory lock, checks every table and plans the install.</summary>
    /// <exception cref="MissingTablesException">A table does not exist; nothing was changed.</exception>
    public static async Task<SchemaSession> PlanInstallAsync(
        SourceDefinition source, ConnectionSettings connection, InstallOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= InstallOptions.Default;
        var (npgsql, transaction) = await BeginAsync(source, connection, options, cancellationToken).ConfigureAwait(false);
        try
        {
            var tables = await SourceFilters.ResolveAsync(npgsql, source, cancellationToken).ConfigureAwait(false);
            var takenOver = await SourceOwnership.CheckAsync(npgsql, transaction, source, options, cancellationToken).ConfigureAwait(false);
            var installed = await OtherModesInstalledAsync(npgsql, source, cancellationToken).ConfigureAwait(false);
            if (installed.Count > 0)
            {
                throw new CaptureModeConflictException(source, installed);
            }
            var changes = await CaptureInstallers.For(source.Mode)
                .PlanInstallAsync(npgsql, source, tables, options, cancellationToken).ConfigureAwait(false);
            return new SchemaSession(npgsql, transaction, source, tables, [.. takenOver, .. changes], SeedReplacementNotes(changes));
        }
        catch
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
            await npgsql.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Plans the removal of everything the source has in the database, in every mode.</summary>
    public static async Task<SchemaSession> PlanUninstallAsync(
        SourceDefinition source, ConnectionSettings connection, InstallOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= InstallOptions.Default;
        var (npgsql, transaction) = await BeginAsync(source, connection, options, cancellationToken).ConfigureAwait(false);
        try
        {
            var changes = new List<SchemaChange>(await SourceOwnership.CheckAsync(npgsql, transaction, source, options, cancellationToken).ConfigureAwait(false));
            foreach (var installer in CaptureInstallers.All)
            {
                changes.AddRange(await installer.PlanUninstallAsync(npgsql, source, cancellationToken).ConfigureAwait(false));
            }
            // Modes share a few objects (the state schema of Durable and Logical): each is dropped once.
            return new SchemaSession(npgsql, transaction, source, [], changes.DistinctBy(c => c.Sql).ToList());
        }
        catch
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
            await npgsql.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Plans switching a source to another capture mode as one transaction (the slot of Logical mode is
    /// created or dropped right after it commits): every other mode's objects are removed and the new
    /// mode's are installed. <see cref="SchemaSession.Notes"/> says what the switch removes and what it
    /// loses (changes still waiting in a Durable journal or a Logical slot), for the operator to confirm.
    /// Durable and Logical keep the source's snapshot state between them.
    /// </summary>
    public static async Task<SchemaSession> PlanModeSwitchAsync(
        SourceDefinition source, CaptureMode mode, ConnectionSettings connection, InstallOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= InstallOptions.Default;
        var target = source with { Mode = mode };
        var (npgsql, transaction) = await BeginAsync(target, connection, options, cancellationToken).ConfigureAwait(false);
        try
        {
            var tables = await SourceFilters.ResolveAsync(npgsql, target, cancellationToken).ConfigureAwait(false);
            var keepState = mode is CaptureMode.Durable or CaptureMode.Logical;
            var removed = new List<CaptureMode>();
            var changes = new List<SchemaChange>(await SourceOwnership.CheckAsync(npgsql, transaction, target, options, cancellationToken).ConfigureAwait(false));
            foreach (var installer in CaptureInstallers.All.Where(i => i.Mode != mode))
            {
                var drops = await installer.PlanUninstallAsync(npgsql, target, cancellationToken).ConfigureAwait(false);
                if (drops.Any(c => !c.SourceState))
                {
                    removed.Add(installer.Mode);
                }
                changes.AddRange(drops.Where(c => !(keepState && c.SourceState)));
            }
            var install = await CaptureInstallers.For(mode).PlanInstallAsync(npgsql, target, tables, options, cancellationToken).ConfigureAwait(false);
            var notes = await ModeSwitchNotes.DescribeAsync(npgsql, target, mode, removed, install.Count > 0, cancellationToken).ConfigureAwait(false);
            changes.AddRange(install);
            return new SchemaSession(npgsql, transaction, target, tables, changes.DistinctBy(c => c.Sql).ToList(), notes);
        }
        catch
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
            await npgsql.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>What install output says when it replaces a function whose calls another role could redirect (the seed's among them).</summary>
    private static IReadOnlyList<string> SeedReplacementNotes(IReadOnlyList<SchemaChange> changes) =>
        changes.Where(c => c.Kind == SchemaChangeKind.ReplaceFunction && c.Reason is not null)
            .Select(c => $"Replacing function {c.Target}: {c.Reason}. The new one pins its search_path and names every call with its schema.")
            .ToList();

    /// <summary>Modes other than the source's whose capture objects exist: installing alongside them would capture twice.</summary>
    private static async Task<IReadOnlyList<CaptureMode>> OtherModesInstalledAsync(
        NpgsqlConnection connection, SourceDefinition source, CancellationToken cancellationToken)
    {
        var modes = new List<CaptureMode>();
        foreach (var installer in CaptureInstallers.All.Where(i => i.Mode != source.Mode))
        {
            var drops = await installer.PlanUninstallAsync(connection, source, cancellationToken).ConfigureAwait(false);
            if (drops.Any(c => !c.SourceState))
            {
                modes.Add(installer.Mode);
            }
        }
        return modes;
    }

    /// <summary>The install as an idempotent SQL script for review, made without a database. Holds no secrets.</summary>
    public static string ScriptInstall(SourceDefinition source, InstallOptions? options = null) =>
        Script(source, "install", CaptureInstallers.For(source.Mode).ScriptInstall(source, options ?? InstallOptions.Default));

    public static string ScriptUninstall(SourceDefinition source, InstallOptions? options = null) =>
        Script(source, "uninstall", CaptureInstallers.For(source.Mode).ScriptUninstall(source, options ?? InstallOptions.Default));

    private static string Script(SourceDefinition source, string verb, IReadOnlyList<SchemaChange> changes)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"-- PostgresSource {verb} for source {source.EventSource} ({source.Mode} mode)");
        text.AppendLine(CultureInfo.InvariantCulture, $"-- objects named: {source.DatabaseObjectName}");
        var inTransaction = changes.Where(c => !c.OutsideTransaction).ToList();
        text.AppendLine("BEGIN;");
        foreach (var change in inTransaction)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"-- {change.Describe()}");
            text.Append(change.Sql).AppendLine(";");
        }
        text.AppendLine("COMMIT;");
        foreach (var change in changes.Where(c => c.OutsideTransaction))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"-- {change.Describe()}");
            text.Append(change.Sql).AppendLine(";");
        }
        return text.ToString();
    }

    private static async Task<(NpgsqlConnection, NpgsqlTransaction)> BeginAsync(
        SourceDefinition source, ConnectionSettings connection, InstallOptions options, CancellationToken cancellationToken)
    {
        // Names come from the identity: a bad one must fail here, before anything is planned, let alone committed.
        source.ValidateIdentity();
        var npgsql = new NpgsqlConnection(connection.ToNpgsqlConnectionString());
        try
        {
            await npgsql.OpenAsync(cancellationToken).ConfigureAwait(false);
            var transaction = await npgsql.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (var command = new NpgsqlCommand(
                "SELECT pg_catalog.set_config('lock_timeout', @timeout, true), pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext(@name))",
                npgsql, transaction))
            {
                command.Parameters.AddWithValue("timeout", $"{(int)options.LockTimeout.TotalMilliseconds}ms");
                command.Parameters.AddWithValue("name", "pgsource:" + source.DatabaseObjectName);
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            return (npgsql, transaction);
        }
        catch
        {
            await npgsql.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
