using Npgsql;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Database;

/// <summary>What a privilege is needed for.</summary>
internal enum PrivilegePurpose
{
    Install,
    Listen,
    /// <summary>Reading the tables for an initial snapshot (install or start with -Snapshot).</summary>
    Snapshot,
}

/// <summary>One privilege a mode needs, whether the connecting role has it, and the statement that grants it.</summary>
internal sealed record PrivilegeRequirement(CaptureMode Mode, PrivilegePurpose Purpose, string Privilege, string Target, bool Granted, string Fix);

/// <summary>
/// The privileges each capture mode needs to install and to listen (the table in docs/security.md), checked for
/// the connecting role. It asks the catalog only (has_*_privilege, pg_has_role, pg_roles, wal_level) and
/// changes nothing, so it can run before an install to say what a DBA must grant.
/// </summary>
internal static class PrivilegeCheck
{
    private sealed record RoleFacts(string User, string Database, bool Connect, bool CreateOnDatabase, bool Replication, string WalLevel, bool? CreateOnFunctionSchema);

    private sealed record TableFacts(string Name, string SchemaSql, string Qualified, bool Found, bool SchemaUsage, bool Trigger, bool Select, bool Owner);

    public static async Task<IReadOnlyList<PrivilegeRequirement>> CheckAsync(
        ConnectionSettings connection, IReadOnlyList<CaptureMode> modes, IReadOnlyList<TableName> tables,
        string functionSchema = "public", CancellationToken cancellationToken = default)
    {
        await using var npgsql = new NpgsqlConnection(connection.ToNpgsqlConnectionString());
        await npgsql.OpenAsync(cancellationToken).ConfigureAwait(false);
        var role = await RoleAsync(npgsql, functionSchema, cancellationToken).ConfigureAwait(false);
        var tableFacts = new List<TableFacts>();
        foreach (var table in tables)
        {
            tableFacts.Add(await TableAsync(npgsql, table, cancellationToken).ConfigureAwait(false));
        }
        return modes.Distinct().SelectMany(mode => Requirements(mode, role, tableFacts, functionSchema)).ToList();
    }

    private static IEnumerable<PrivilegeRequirement> Requirements(CaptureMode mode, RoleFacts role, IReadOnlyList<TableFacts> tables, string functionSchema)
    {
        var user = Sql.Identifier(role.User);
        var database = Sql.Identifier(role.Database);
        PrivilegeRequirement Need(PrivilegePurpose purpose, string privilege, string target, bool granted, string fix) =>
            new(mode, purpose, privilege, target, granted, fix);

        yield return Need(PrivilegePurpose.Install, "CONNECT", $"database {role.Database}", role.Connect, $"GRANT CONNECT ON DATABASE {database} TO {user}");
        yield return Need(PrivilegePurpose.Listen, "CONNECT", $"database {role.Database}", role.Connect, $"GRANT CONNECT ON DATABASE {database} TO {user}");
        switch (mode)
        {
            case CaptureMode.Notify:
                yield return Need(PrivilegePurpose.Install, "CREATE", $"schema {functionSchema} (the capture function)", role.CreateOnFunctionSchema == true,
                    role.CreateOnFunctionSchema is null ? $"CREATE SCHEMA {Sql.Identifier(functionSchema)}" : $"GRANT CREATE ON SCHEMA {Sql.Identifier(functionSchema)} TO {user}");
                break;
            case CaptureMode.Durable:
                yield return Need(PrivilegePurpose.Install, "CREATE", $"database {role.Database} (the source's schema and journal)", role.CreateOnDatabase,
                    $"GRANT CREATE ON DATABASE {database} TO {user}");
                break;
            case CaptureMode.Logical:
                yield return Need(PrivilegePurpose.Install, "wal_level = logical", "server", role.WalLevel == "logical",
                    "ALTER SYSTEM SET wal_level = logical, then restart the server");
                yield return Need(PrivilegePurpose.Install, "REPLICATION", $"role {role.User} (the replication slot)", role.Replication, $"ALTER ROLE {user} REPLICATION");
                yield return Need(PrivilegePurpose.Install, "CREATE", $"database {role.Database} (the publication and snapshot state)", role.CreateOnDatabase,
                    $"GRANT CREATE ON DATABASE {database} TO {user}");
                yield return Need(PrivilegePurpose.Listen, "REPLICATION", $"role {role.User} (streaming from the slot)", role.Replication, $"ALTER ROLE {user} REPLICATION");
                break;
        }
        foreach (var table in tables)
        {
            if (!table.Found)
            {
                yield return Need(PrivilegePurpose.Install, "table exists and is visible", table.Name, false, "create the table, or correct the name (schema.table)");
                continue;
            }
            yield return Need(PrivilegePurpose.Install, "USAGE", $"schema of {table.Name}", table.SchemaUsage,
                $"GRANT USAGE ON SCHEMA {table.SchemaSql} TO {user}");
            if (mode == CaptureMode.Logical)
            {
                // A publication FOR TABLE may only name tables its creator owns.
                yield return Need(PrivilegePurpose.Install, "owner", $"table {table.Name} (publication)", table.Owner,
                    $"ALTER TABLE {table.Qualified} OWNER TO {user}, or install as the table's owner");
            }
            else
            {
                yield return Need(PrivilegePurpose.Install, "TRIGGER", $"table {table.Name}", table.Trigger, $"GRANT TRIGGER ON {table.Qualified} TO {user}");
            }
            if (mode != CaptureMode.Notify)
            {
                yield return Need(PrivilegePurpose.Snapshot, "SELECT", $"table {table.Name}", table.Select, $"GRANT SELECT ON {table.Qualified} TO {user}");
            }
        }
    }

    private static async Task<RoleFacts> RoleAsync(NpgsqlConnection connection, string functionSchema, CancellationToken cancellationToken)
    {
        const string query = """
            SELECT current_user, pg_catalog.current_database(),
                   pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CONNECT'),
                   pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE'),
                   (SELECT r.rolreplication OR r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = current_user),
                   pg_catalog.current_setting('wal_level'),
                   (SELECT pg_catalog.has_schema_privilege(n.oid, 'CREATE') FROM pg_catalog.pg_namespace n WHERE n.nspname = @schema)
            """;
        await using var command = new NpgsqlCommand(query, connection);
        command.Parameters.AddWithValue("schema", functionSchema);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return new RoleFacts(reader.GetString(0), reader.GetString(1), reader.GetBoolean(2), reader.GetBoolean(3), reader.GetBoolean(4), reader.GetString(5),
            reader.IsDBNull(6) ? null : reader.GetBoolean(6));
    }

    private static async Task<TableFacts> TableAsync(NpgsqlConnection connection, TableName table, CancellationToken cancellationToken)
    {
        var resolved = await TableResolver.ResolveAsync(connection, table, cancellationToken).ConfigureAwait(false);
        if (resolved is null)
        {
            return new TableFacts(table.ToString(), string.Empty, string.Empty, false, false, false, false, false);
        }
        const string query = """
            SELECT pg_catalog.has_schema_privilege(c.relnamespace, 'USAGE'),
                   pg_catalog.has_table_privilege(c.oid, 'TRIGGER'),
                   pg_catalog.has_table_privilege(c.oid, 'SELECT'),
                   pg_catalog.pg_has_role(c.relowner, 'USAGE')
            FROM pg_catalog.pg_class c WHERE c.oid = @oid
            """;
        await using var command = new NpgsqlCommand(query, connection);
        command.Parameters.AddWithValue("oid", NpgsqlTypes.NpgsqlDbType.Oid, resolved.Oid);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return new TableFacts(resolved.ToString(), Sql.Identifier(resolved.Schema), resolved.Qualified, true, reader.GetBoolean(0), reader.GetBoolean(1), reader.GetBoolean(2), reader.GetBoolean(3));
    }
}
