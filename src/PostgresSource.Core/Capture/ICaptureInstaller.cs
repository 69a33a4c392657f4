using Npgsql;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Database;

namespace PostgresSource.Core.Capture;

/// <summary>
/// Creates and removes the database objects of one capture mode. Plans are computed against the
/// live catalog (so a second install plans nothing) or, for -Script, written out without a database.
/// </summary>
internal interface ICaptureInstaller
{
    CaptureMode Mode { get; }

    Task<IReadOnlyList<SchemaChange>> PlanInstallAsync(
        NpgsqlConnection connection, SourceDefinition source, IReadOnlyList<ResolvedTable> tables,
        InstallOptions options, CancellationToken cancellationToken);

    /// <summary>Finds this mode's objects for the source, wherever they are, and plans their removal.</summary>
    Task<IReadOnlyList<SchemaChange>> PlanUninstallAsync(
        NpgsqlConnection connection, SourceDefinition source, CancellationToken cancellationToken);

    /// <summary>An idempotent script for a DBA, made without a database.</summary>
    IReadOnlyList<SchemaChange> ScriptInstall(SourceDefinition source, InstallOptions options);

    IReadOnlyList<SchemaChange> ScriptUninstall(SourceDefinition source, InstallOptions options);
}
