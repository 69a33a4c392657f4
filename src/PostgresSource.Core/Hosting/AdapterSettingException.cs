namespace PostgresSource.Core.Hosting;

/// <summary>An adapter setting that is missing or wrong; <see cref="Variable"/> names it.</summary>
internal sealed class AdapterSettingException(string variable, string message) : Exception(message)
{
    public string Variable { get; } = variable;
}
