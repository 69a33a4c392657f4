using System.Text;
using System.Text.Json;

namespace PostgresSource.Core.Hosting;

/// <summary>
/// One JSON object per line on stdout: time, level, msg, then fields. Callers pass only safe values
/// (the connection is always its masked display string).
/// </summary>
internal sealed class JsonLog(TextWriter output)
{
    private readonly object _gate = new();

    public void Info(string message, params (string Key, object? Value)[] fields) => Write("info", message, fields);
    public void Warn(string message, params (string Key, object? Value)[] fields) => Write("warn", message, fields);
    public void Error(string message, params (string Key, object? Value)[] fields) => Write("error", message, fields);

    public void Write(string level, string message, params (string Key, object? Value)[] fields)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("time", DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
            writer.WriteString("level", level);
            writer.WriteString("msg", message);
            foreach (var (key, value) in fields)
            {
                if (value is null)
                {
                    continue;
                }
                writer.WritePropertyName(key);
                switch (value)
                {
                    case bool b: writer.WriteBooleanValue(b); break;
                    case int i: writer.WriteNumberValue(i); break;
                    case long l: writer.WriteNumberValue(l); break;
                    case double d: writer.WriteNumberValue(d); break;
                    default: writer.WriteStringValue(value.ToString()); break;
                }
            }
            writer.WriteEndObject();
        }
        var line = Encoding.UTF8.GetString(buffer.ToArray());
        lock (_gate)
        {
            output.WriteLine(line);
            output.Flush();
        }
    }
}
