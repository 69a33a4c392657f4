using System.Xml.Linq;

namespace PostgresSource.Pester.Tests;

/// <summary>The counts and failures in a Pester NUnit XML report.</summary>
internal sealed record PesterResults(int Total, int Failed, int Skipped, IReadOnlyList<string> Failures)
{
    public int Passed => Total - Failed - Skipped;

    public static PesterResults Read(string path)
    {
        var root = XDocument.Load(path).Root ?? throw new InvalidDataException($"{path} is empty.");
        int Count(string attribute) => int.TryParse(root.Attribute(attribute)?.Value, out var value) ? value : 0;
        var failures = root.Descendants("test-case")
            .Where(c => c.Attribute("result")?.Value is "Failure" or "Error")
            .Select(c => c.Attribute("name")?.Value + ": " + c.Descendants("message").FirstOrDefault()?.Value.Trim())
            .ToList();
        // NUnit 2.5 counts skipped and not-run tests apart from failures; Pester writes both.
        return new PesterResults(Count("total"), Count("failures") + Count("errors"), Count("skipped") + Count("not-run") + Count("ignored"), failures);
    }
}
