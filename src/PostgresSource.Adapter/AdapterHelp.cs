using System.Text;
using PostgresSource.Core.Database;
using PostgresSource.Core.Hosting;

namespace PostgresSource.Adapter;

/// <summary>The --help text, written from the settings table so that it lists every variable the adapter reads.</summary>
internal static class AdapterHelp
{
    public static string Render()
    {
        var text = new StringBuilder();
        text.AppendLine("pgsource-adapter [run|uninstall]");
        text.AppendLine("  Turns PostgreSQL row changes into CloudEvents and sends them to K_SINK. Configured by environment:");
        foreach (var section in AdapterSettings.All.GroupBy(s => s.Section))
        {
            text.AppendLine().AppendLine($"  {section.Key}:");
            foreach (var setting in section)
            {
                var details = string.Join("; ", new[] { setting.Range, setting.DefaultText is { Length: > 0 } value ? "default " + value : null }.OfType<string>());
                text.AppendLine($"    {setting.Variable}{(details.Length == 0 ? string.Empty : $" ({details})")}");
                text.AppendLine($"        {setting.Help}");
            }
        }
        text.AppendLine().AppendLine("  libpq variables, read when neither PGSOURCE_CONNECTION nor a connection file is there:");
        text.AppendLine("    " + string.Join(", ", ConnectionResolver.LibpqVariableNames));
        text.AppendLine().AppendLine("  Exit codes: 0 stopped, 1 failure, 2 configuration error, 3 a change could not be delivered (kept). See docs/adapter.md.");
        return text.ToString().TrimEnd();
    }
}
