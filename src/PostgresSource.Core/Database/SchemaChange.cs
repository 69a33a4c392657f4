namespace PostgresSource.Core.Database;

/// <summary>What a schema change does, for -WhatIf text and result objects.</summary>
public enum SchemaChangeKind
{
    CreateFunction,
    ReplaceFunction,
    DropFunction,
    CreateTrigger,
    ReplaceTrigger,
    DropTrigger,
    CreateTable,
    DropTable,
    CreatePublication,
    AlterPublication,
    DropPublication,
    CreateSlot,
    DropSlot,
    AlterTable,
    CreateSchema,
    DropSchema,
    /// <summary>Records that the capture must take an initial snapshot (Durable, Logical).</summary>
    RequestSnapshot,
}

/// <summary>One statement of an install or uninstall plan, with the object it touches.</summary>
public sealed record SchemaChange(SchemaChangeKind Kind, string Target, string Sql)
{
    /// <summary>True for statements that cannot run inside a transaction block (replication slots).</summary>
    public bool OutsideTransaction { get; init; }

    /// <summary>Removes the source's state schema or snapshot table, which Durable and Logical share: a switch between them keeps it.</summary>
    internal bool SourceState { get; init; }

    public string Describe() => $"{Humanize(Kind)} {Target}";

    private static string Humanize(SchemaChangeKind kind) => kind switch
    {
        SchemaChangeKind.CreateFunction => "create function",
        SchemaChangeKind.ReplaceFunction => "replace function",
        SchemaChangeKind.DropFunction => "drop function",
        SchemaChangeKind.CreateTrigger => "create trigger on",
        SchemaChangeKind.ReplaceTrigger => "replace trigger on",
        SchemaChangeKind.DropTrigger => "drop trigger on",
        SchemaChangeKind.CreateTable => "create table",
        SchemaChangeKind.DropTable => "drop table",
        SchemaChangeKind.CreatePublication => "create publication",
        SchemaChangeKind.AlterPublication => "alter publication",
        SchemaChangeKind.DropPublication => "drop publication",
        SchemaChangeKind.CreateSlot => "create replication slot",
        SchemaChangeKind.DropSlot => "drop replication slot",
        SchemaChangeKind.AlterTable => "alter table",
        SchemaChangeKind.CreateSchema => "create schema",
        SchemaChangeKind.DropSchema => "drop schema",
        SchemaChangeKind.RequestSnapshot => "request an initial snapshot of",
        _ => kind.ToString(),
    };
}
