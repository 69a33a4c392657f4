using Npgsql;
using PostgresSource.Core.Diagnostics;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Database;

/// <summary>
/// The objects a source's names point at must be the connecting role's before install or uninstall touches them.
/// The names are predictable, so another role can create them first (a schema with a journal and its own trigger
/// on it would see and delete every captured change). An object is the connecting role's when that role owns it
/// or really is a member of its owner; a superuser's implied membership in every role does not count, because a
/// superuser installing is exactly whom a squatter hopes to catch. Replication slots have no owner in PostgreSQL:
/// any role with REPLICATION can use any slot, so they are not checked here (see docs/security.md).
/// </summary>
internal static class SourceOwnership
{
    public sealed record ForeignObject(string Kind, string Name, string Owner, string DropSql);

    // One row per object with the source's name that the connecting role does not own.
    private const string Query = """
        WITH me AS (SELECT r.oid, r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user),
        found AS (
            SELECT 'schema' AS kind, n.nspname::text AS name, n.nspowner AS owner,
                   'DROP SCHEMA ' || pg_catalog.quote_ident(n.nspname) || ' CASCADE' AS drop_sql
            FROM pg_catalog.pg_namespace n WHERE n.nspname = @name
            UNION ALL
            SELECT 'table', n.nspname || '.' || c.relname, c.relowner,
                   'DROP TABLE IF EXISTS ' || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) || ' CASCADE'
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = @name AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
            UNION ALL
            SELECT 'function', n.nspname || '.' || p.proname || '()', p.proowner,
                   'DROP FUNCTION IF EXISTS ' || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(p.proname) || '() CASCADE'
            FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
            WHERE (p.proname = @name OR n.nspname = @name) AND p.pronargs = 0
            UNION ALL
            SELECT 'publication', p.pubname::text, p.pubowner,
                   'DROP PUBLICATION IF EXISTS ' || pg_catalog.quote_ident(p.pubname)
            FROM pg_catalog.pg_publication p WHERE p.pubname = @name
        )
        SELECT f.kind, f.name, pg_catalog.pg_get_userbyid(f.owner), f.drop_sql
        FROM found f, me
        WHERE f.owner <> me.oid AND (me.rolsuper OR NOT pg_catalog.pg_has_role(me.oid, f.owner, 'MEMBER'))
        ORDER BY CASE f.kind WHEN 'schema' THEN 0 ELSE 1 END, f.kind, f.name
        """;

    public static async Task<IReadOnlyList<ForeignObject>> FindAsync(NpgsqlConnection connection, string name, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(Query, connection);
        command.Parameters.AddWithValue("name", name);
        var found = new List<ForeignObject>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            found.Add(new ForeignObject(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
        }
        return found;
    }

    /// <summary>
    /// Refuses (nothing changed) when another role's objects carry the source's names, unless the caller asked to
    /// take them over: then they are removed inside the plan's transaction, before the plan is made, and returned
    /// as changes already run (a -WhatIf or a refusal rolls them back with the rest).
    /// </summary>
    public static async Task<IReadOnlyList<SchemaChange>> CheckAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, SourceDefinition source, InstallOptions options, CancellationToken cancellationToken)
    {
        var foreign = await FindAsync(connection, source.DatabaseObjectName, cancellationToken).ConfigureAwait(false);
        if (foreign.Count == 0)
        {
            return [];
        }
        if (!options.TakeOver)
        {
            throw new SourceOwnershipException(source, foreign);
        }
        var changes = new List<SchemaChange>();
        // Everything in a taken-over schema goes with it.
        var schema = foreign.FirstOrDefault(f => f.Kind == "schema");
        foreach (var item in foreign.Where(f => schema is null || f.Kind is "schema" or "publication" || !f.Name.StartsWith(schema.Name + ".", StringComparison.Ordinal)))
        {
            await using (var command = new NpgsqlCommand(item.DropSql, connection, transaction))
            {
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            changes.Add(new SchemaChange(SchemaChangeKind.TakeOver, $"{item.Kind} {item.Name}", item.DropSql)
            {
                Reason = $"owned by role {item.Owner}",
                AlreadyRun = true,
            });
        }
        return changes;
    }
}

/// <summary>Objects with the source's names belong to another role; nothing was changed.</summary>
internal sealed class SourceOwnershipException : Exception, IHasRemedy
{
    internal SourceOwnershipException(SourceDefinition source, IReadOnlyList<SourceOwnership.ForeignObject> objects)
        : base($"Source {source.EventSource}: {Describe(objects)} with the source's name {(objects.Count == 1 ? "belongs" : "belong")} to another role, " +
               "so this source did not make " + (objects.Count == 1 ? "it" : "them") + " for you and will not use or remove " + (objects.Count == 1 ? "it" : "them") + ". " +
               "Connect as the owning role, or take them over explicitly, which removes them with everything in them and installs afresh. " +
               "Nothing was changed.")
    {
        Objects = objects.Select(o => $"{o.Kind} {o.Name} (owner {o.Owner})").ToList();
    }

    /// <summary>Each object as "kind name (owner role)".</summary>
    public IReadOnlyList<string> Objects { get; }

    public Remedy Remedy => Remedy.TakeOverObjects;

    private static string Describe(IReadOnlyList<SourceOwnership.ForeignObject> objects) =>
        string.Join(", ", objects.Select(o => $"{o.Kind} {o.Name} (owner {o.Owner})"));
}
