namespace PostgresSource.Core.Hosting;

/// <summary>One row of the adapter's settings table, as --help shows it.</summary>
internal abstract class AdapterSetting(string variable, string section, string help)
{
    /// <summary>The environment variable.</summary>
    public string Variable { get; } = variable;

    /// <summary>The --help group it is listed under.</summary>
    public string Section { get; } = section;

    public string Help { get; } = help;

    /// <summary>The accepted values in words ("1 to 65535", "stop|skip"); null when any text will do.</summary>
    public abstract string? Range { get; }

    /// <summary>The value when the variable is unset, in words; null when there is none (required, or decided elsewhere).</summary>
    public abstract string? DefaultText { get; }

    /// <summary>The raw text: null when unset or blank, trimmed otherwise.</summary>
    public string? TextIn(Func<string, string?> environment) =>
        environment(Variable) is { } text && !string.IsNullOrWhiteSpace(text) ? text.Trim() : null;

    public AdapterSettingException Error(string message) => new(Variable, message);
}

/// <summary>A setting of type <typeparamref name="T"/>: its parser and its default.</summary>
internal sealed class AdapterSetting<T>(string variable, string section, string help, SettingParser<T> parser, T defaultValue, string? defaultText = null)
    : AdapterSetting(variable, section, help)
{
    public T DefaultValue { get; } = defaultValue;

    public override string? Range => parser.Range;

    public override string? DefaultText => defaultText ?? (DefaultValue is null ? null : parser.Describe(DefaultValue));

    /// <summary>The value in <paramref name="environment"/>, or the default when unset; a bad value names this variable.</summary>
    public T Read(Func<string, string?> environment) => TextIn(environment) is { } text ? Parse(text) : DefaultValue;

    /// <summary>The value, or an error saying what it is for (<paramref name="requiredFor"/>) when unset.</summary>
    public T Require(Func<string, string?> environment, string requiredFor) =>
        TextIn(environment) is { } text ? Parse(text) : throw Error("required: " + requiredFor);

    public T Parse(string text)
    {
        try
        {
            return parser.Parse(text);
        }
        catch (FormatException ex)
        {
            throw Error(ex.Message);
        }
    }

    /// <summary>The text a writer (the Kubernetes Deployment) puts in the variable for <paramref name="value"/>.</summary>
    public string Format(T value) => parser.Describe(value);
}
