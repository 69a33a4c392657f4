using System.Xml.Linq;

namespace PostgresSource.Pester.Tests;

/// <summary>The outcome of every test case in a Pester NUnit XML report (tests a tag filter left out are not in it).</summary>
internal sealed record PesterResults(int Passed, int Failed, int Skipped, IReadOnlyList<string> Failures)
{
    public static PesterResults Read(string path)
    {
        var cases = XDocument.Load(path).Descendants("test-case").ToList();
        string Result(XElement c) => c.Attribute("result")?.Value ?? string.Empty;
        var failed = cases.Where(c => Result(c) is "Failure" or "Error").ToList();
        return new PesterResults(
            cases.Count(c => Result(c) == "Success"),
            failed.Count,
            cases.Count(c => Result(c) is "Ignored" or "Skipped" or "Inconclusive"),
            failed.Select(c => c.Attribute("name")?.Value + ": " + c.Descendants("message").FirstOrDefault()?.Value.Trim()).ToList());
    }
}
