using System.Globalization;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Hosting;

/// <summary>
/// Turns one variable's text into its value. <see cref="Range"/> is the accepted values in words, for --help; a
/// parser throws <see cref="FormatException"/> with a message that says what is wrong (the setting adds the name).
/// </summary>
internal sealed record SettingParser<T>(Func<string, T> Parse, string? Range = null, Func<T, string>? Format = null)
{
    public string Describe(T value) => Format?.Invoke(value) ?? Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty;
}

/// <summary>The parsers the adapter's settings use; each names its range for --help.</summary>
internal static class SettingParsers
{
    public static SettingParser<string> Text { get; } = new(text => text);

    public static SettingParser<bool> Bool { get; } = new(text => text.ToLowerInvariant() switch
    {
        "true" or "1" or "yes" or "on" => true,
        "false" or "0" or "no" or "off" => false,
        _ => throw new FormatException($"'{text}' is not true or false."),
    }, "true|false", value => value ? "true" : "false");

    public static SettingParser<int> Int(int min, int max) => new(text =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new FormatException($"'{text}' is not a whole number from {min} to {max}."),
        $"{min} to {max}");

    /// <summary>ISO 8601 as Knative's delivery.backoffDelay ("PT0.2S"), or a number with ms, s or m ("200ms", "2s"), from min to max.</summary>
    public static SettingParser<TimeSpan> Duration(TimeSpan min, TimeSpan max) => new(text =>
    {
        var value = ParseDuration(text);
        return value >= min && value <= max
            ? value
            : throw new FormatException($"'{text}' is outside {FormatDuration(min)} to {FormatDuration(max)}.");
    }, max == TimeSpan.MaxValue ? "a duration" : $"{FormatDuration(min)} to {FormatDuration(max)}", FormatDuration);

    public static SettingParser<TimeSpan> AnyDuration { get; } = Duration(TimeSpan.Zero, TimeSpan.MaxValue);

    /// <summary>One of the names in <paramref name="choices"/>, case-insensitive.</summary>
    public static SettingParser<T> Choice<T>(params (string Name, T Value)[] choices) => new(text =>
    {
        foreach (var (name, value) in choices)
        {
            if (string.Equals(name, text, StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }
        throw new FormatException($"'{text}' is not {JoinOr(choices.Select(c => c.Name).ToList())}.");
    }, string.Join('|', choices.Select(c => c.Name)), value => choices.First(c => EqualityComparer<T>.Default.Equals(c.Value, value)).Name);

    public static SettingParser<Uri> Sink { get; } = new(text => SinkAddress.TryParse(text, out var uri)
        ? uri
        : throw new FormatException("not an absolute http or https URL."), "an http or https URL");

    /// <summary>A path that must name an existing file.</summary>
    public static SettingParser<string> ExistingFile { get; } = new(path => File.Exists(path)
        ? path
        : throw new FormatException($"the file '{path}' does not exist."), "a file path");

    /// <summary>PEM text with at least one certificate; the text is returned as given, and never shown in a message.</summary>
    public static SettingParser<string> PemCertificates { get; } = new(text =>
    {
        foreach (var certificate in HttpEventSink.ParsePemCertificates(text))
        {
            certificate.Dispose();
        }
        return text;
    }, "PEM certificates");

    public static string FormatDuration(TimeSpan value) =>
        value.TotalMilliseconds < 1000 || value.Milliseconds != 0 ? $"{value.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)}ms"
        : value.TotalSeconds < 60 || value.Seconds != 0 ? $"{value.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s"
        : $"{value.TotalMinutes.ToString(CultureInfo.InvariantCulture)}m";

    private static TimeSpan ParseDuration(string text)
    {
        try
        {
            TimeSpan value;
            if (text.StartsWith('P') || text.StartsWith('p'))
            {
                // The one ISO 8601 reader, the CR's (spec.delivery.retryTime).
                value = SourceDelivery.TryParseDuration(text.ToUpperInvariant(), out var iso) ? iso : throw new FormatException();
            }
            else
            {
                var (number, unit) = text.EndsWith("ms", StringComparison.OrdinalIgnoreCase) ? (text[..^2], 1.0)
                    : text.EndsWith('s') ? (text[..^1], 1000.0)
                    : text.EndsWith('m') ? (text[..^1], 60_000.0)
                    : throw new FormatException();
                value = TimeSpan.FromMilliseconds(double.Parse(number, NumberStyles.Float, CultureInfo.InvariantCulture) * unit);
            }
            return value >= TimeSpan.Zero ? value : throw new FormatException();
        }
        catch (Exception ex) when (ex is FormatException or OverflowException)
        {
            throw new FormatException($"'{text}' is not a duration (ISO 8601 such as PT0.5S, or 500ms, 2s, 1m).");
        }
    }

    private static string JoinOr(IReadOnlyList<string> names) =>
        names.Count == 1 ? names[0] : string.Join(", ", names.Take(names.Count - 1)) + " or " + names[^1];
}
