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
}

/// <summary>One statement of an install or uninstall plan, with the object it touches.</summary>
public sealed record SchemaChange(SchemaChangeKind Kind, string Target, string Sql)
{
    /// <summary>True for statements that cannot run inside a transaction block (replication slots).</summary>
    public bool OutsideTransaction { get; init; }

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
        _ => kind.ToString(),
    };
}
