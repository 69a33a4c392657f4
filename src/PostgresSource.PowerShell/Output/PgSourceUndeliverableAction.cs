namespace PostgresSource.PowerShell;

/// <summary>What Start-PgSourceListener does with a change neither the sink nor the dead-letter sink takes (-OnUndeliverable).</summary>
public enum PgSourceUndeliverableAction
{
    /// <summary>Stop with a PgSource.DeliveryFailed error; the change stays unacknowledged (the default).</summary>
    Stop,
    /// <summary>Write a PgSource.ChangeSkipped error and acknowledge the change, so the stream goes on without it.</summary>
    Skip,
}
