namespace PostgresSource.Core.Database;

/// <summary>What a schema change does, for -WhatIf text and result objects.</summary>
internal enum SchemaChangeKind
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
    /// <summary>Grants writers the one narrow right the capture needs (Durable: INSERT on the journal under row-level security).</summary>
    GrantAccess,
    /// <summary>Sets whether a trigger also fires in replica sessions (ENABLE ALWAYS) or not (ENABLE).</summary>
    EnableTrigger,
    /// <summary>Removes an object with the source's name that another role owns (only on an explicit take-over).</summary>
    TakeOver,
}

/// <summary>One statement of an install or uninstall plan, with the object it touches.</summary>
internal sealed record SchemaChange(SchemaChangeKind Kind, string Target, string Sql)
{
    /// <summary>True for statements that cannot run inside a transaction block (replication slots).</summary>
    public bool OutsideTransaction { get; init; }

    /// <summary>Removes the source's state schema or snapshot table, which Durable and Logical share: a switch between them keeps it.</summary>
    internal bool SourceState { get; init; }

    /// <summary>Already executed inside the plan's transaction (a take-over, which the plan must see done); commit makes it stick.</summary>
    public bool AlreadyRun { get; init; }

    /// <summary>Why the change is needed, when that is not obvious from its kind (a replaced function says what was wrong).</summary>
    public string? Reason { get; init; }

    public string Describe() => Reason is null ? $"{Humanize(Kind)} {Target}" : $"{Humanize(Kind)} {Target} ({Reason})";

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
        SchemaChangeKind.GrantAccess => "grant writers capture access to",
        SchemaChangeKind.EnableTrigger => "set when the trigger fires on",
        SchemaChangeKind.TakeOver => "take over (remove, then install afresh)",
        _ => kind.ToString(),
    };
}
