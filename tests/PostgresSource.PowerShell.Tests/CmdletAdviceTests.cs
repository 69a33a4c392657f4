using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;

namespace PostgresSource.PowerShell.Tests;

/// <summary>
/// Core and Kubernetes messages say what is wrong; only the cmdlet layer says which parameter to pass. The core's
/// Remedy names what is needed, and CmdletAdvice words each one for the cmdlets.
/// </summary>
public sealed class CmdletAdviceTests
{
    [Fact]
    public void EveryRemedyHasCmdletAdvice()
    {
        // The module's own types, from its load context: the test does not reference the module's assemblies.
        using var ps = PowerShellSession.Open();
        var module = (Assembly)ps.Run("(Get-Module PostgresSource).ImplementingAssembly").Output.Single().BaseObject;
        var advice = module.GetType("PostgresSource.PowerShell.Infrastructure.CmdletAdvice", throwOnError: true)!;
        var forRemedy = advice.GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Single(m => m.Name == "For" && m.GetParameters() is [{ ParameterType.IsEnum: true }]);
        var remedy = forRemedy.GetParameters()[0].ParameterType;
        Assert.Equal("PostgresSource.Core.Diagnostics.Remedy", remedy.FullName);

        var values = Enum.GetValues(remedy).Cast<object>().ToList();
        Assert.True(values.Count > 1, "Remedy has no values besides None.");
        foreach (var value in values)
        {
            var text = (string?)forRemedy.Invoke(null, [value]);
            if (value.ToString() == "None")
            {
                Assert.Null(text);
                continue;
            }
            Assert.False(string.IsNullOrWhiteSpace(text), $"Remedy.{value} has no entry in CmdletAdvice.");
            // Cmdlet advice: it names a parameter to pass or a cmdlet to run, or says who to ask.
            Assert.Matches(@"(^|\s|\()-[A-Z]|[A-Z][a-z]+-PgSource|^(Ask|Connect|Give|Log in)\b", text!);
        }
    }

    /// <summary>
    /// " -Context", "(-Force", "-SwitchMode" at the start of a literal: a dash and a capitalised word not inside a
    /// hyphenated word. Matched against the text of every string literal (comments stripped), which covers every
    /// exception message and warning, since messages are built only from literals and values.
    /// </summary>
    private static readonly Regex CmdletParameter = new(@"(?<![\w-])-[A-Z][a-z]+(?:[A-Z][a-z]*)*\b", RegexOptions.CultureInvariant);

    [Theory]
    [InlineData("PostgresSource.Core")]
    [InlineData("PostgresSource.Kubernetes")]
    public void CoreLiteralsNameNoCmdletParameter(string project)
    {
        var root = Path.Combine(ModuleLayout.RepositoryRoot, "src", project);
        var files = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToList();
        Assert.NotEmpty(files);

        var found = new List<string>();
        var literals = 0;
        foreach (var file in files)
        {
            foreach (var (line, literal) in StringLiterals(File.ReadAllText(file)))
            {
                literals++;
                foreach (Match match in CmdletParameter.Matches(literal))
                {
                    found.Add($"{Path.GetRelativePath(root, file)}:{line}: {match.Value} in \"{literal}\"");
                }
            }
        }
        Assert.True(literals > 500, $"Only {literals} string literals found in {project}: the scan is broken.");
        Assert.True(found.Count == 0, "Core text names a cmdlet parameter; state the Remedy instead:\n" + string.Join("\n", found));
    }

    [Fact]
    public void TheScanSeesLiteralsAndSkipsComments()
    {
        const string code = "// pass -Context here\n/* -Force */ var a = \"pass -Kubeconfig\"; var b = @\"x \"\"-Yes\"\" \"; var c = $\"{n} (-SwitchMode)\";\n" +
                            "var d = \"\"\"\n raw -TakeOver\n \"\"\"; var e = \"http://h/-x non-Unique\"; var f = '\"';\n" +
                            "var g = $\"a {(x ? \"pass -Sink\" : string.Join(\", \", y))} b {{-NotAHole}}\"; // -Standby";
        var literals = StringLiterals(code).Select(l => l.Text).ToList();
        Assert.Equal(["-Kubeconfig", "-Yes", "-SwitchMode", "-TakeOver", "-Sink", "-NotAHole"],
            literals.SelectMany(l => CmdletParameter.Matches(l).Select(m => m.Value)));
        Assert.DoesNotContain(literals, l => l.Contains("-Context", StringComparison.Ordinal) || l.Contains("-Force", StringComparison.Ordinal));
    }

    /// <summary>
    /// The text of each string literal (regular, verbatim, interpolated, raw) with its first line, comments skipped.
    /// An interpolated string's holes are code again, so literals nested in them are literals of their own.
    /// </summary>
    private static List<(int Line, string Text)> StringLiterals(string code)
    {
        var scanner = new LiteralScanner(code);
        scanner.Code(untilBrace: false);
        return scanner.Found;
    }

    private sealed class LiteralScanner(string code)
    {
        private int _i;
        private int _line = 1;

        public List<(int Line, string Text)> Found { get; } = [];

        private char At(int offset) => _i + offset < code.Length ? code[_i + offset] : '\0';

        /// <summary>Code up to the end, or (in an interpolation hole) up to its closing brace.</summary>
        public void Code(bool untilBrace)
        {
            var depth = 0;
            while (_i < code.Length)
            {
                var c = code[_i];
                if (c == '\n')
                {
                    _line++;
                    _i++;
                }
                else if (c == '/' && At(1) == '/')
                {
                    while (_i < code.Length && code[_i] != '\n')
                    {
                        _i++;
                    }
                }
                else if (c == '/' && At(1) == '*')
                {
                    var end = code.IndexOf("*/", _i + 2, StringComparison.Ordinal);
                    end = end < 0 ? code.Length : end + 2;
                    _line += code.AsSpan(_i, end - _i).Count('\n');
                    _i = end;
                }
                else if (c == '\'')
                {
                    // A char literal: '"' must not start a string.
                    _i = code.IndexOf('\'', At(1) == '\\' ? _i + 3 : _i + 2) + 1;
                }
                else if (c == '"')
                {
                    var before = _i > 0 ? code[_i - 1] : ' ';
                    var beforeThat = _i > 1 ? code[_i - 2] : ' ';
                    Literal(verbatim: before == '@' || (before == '$' && beforeThat == '@') || (before == '@' && beforeThat == '$'),
                        interpolated: before == '$' || (before == '@' && beforeThat == '$') || (before == '$' && beforeThat == '@'));
                }
                else if (c == '{')
                {
                    depth++;
                    _i++;
                }
                else if (c == '}')
                {
                    _i++;
                    if (untilBrace && depth-- == 0)
                    {
                        return;
                    }
                }
                else
                {
                    _i++;
                }
            }
        }

        private void Literal(bool verbatim, bool interpolated)
        {
            var start = _line;
            var text = new StringBuilder();
            if (At(1) == '"' && At(2) == '"')
            {
                var quotes = 0;
                while (At(0) == '"')
                {
                    quotes++;
                    _i++;
                }
                var close = code.IndexOf(new string('"', quotes), _i, StringComparison.Ordinal);
                text.Append(code, _i, close - _i);
                _line += code.AsSpan(_i, close - _i).Count('\n');
                _i = close + quotes;
                Found.Add((start, text.ToString()));
                return;
            }
            _i++;
            while (_i < code.Length)
            {
                var c = code[_i];
                if (c == '"' && verbatim && At(1) == '"')
                {
                    text.Append('"');
                    _i += 2;
                }
                else if (c == '\\' && !verbatim)
                {
                    text.Append(code, _i, 2);
                    _i += 2;
                }
                else if (c == '"')
                {
                    _i++;
                    break;
                }
                else if (interpolated && (c == '{' || c == '}') && At(1) == c)
                {
                    text.Append(c);
                    _i += 2;
                }
                else if (interpolated && c == '{')
                {
                    _i++;
                    text.Append(' ');
                    Code(untilBrace: true);
                }
                else
                {
                    if (c == '\n')
                    {
                        _line++;
                    }
                    text.Append(c);
                    _i++;
                }
            }
            Found.Add((start, text.ToString()));
        }
    }
}
