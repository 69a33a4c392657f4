using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;

namespace PostgresSource.PowerShell.Tests;

/// <summary>The Gallery package is the assembled module folder, with the manifest at the root and Gallery tags.</summary>
public sealed class PackageTests
{
    [Fact]
    public void PackProducesAGalleryShapedPackage()
    {
        var output = Directory.CreateTempSubdirectory("pgsource-pack-").FullName;
        try
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = ModuleLayout.RepositoryRoot };
            foreach (var argument in new[] { "pack", "src/PostgresSource.PowerShell/PostgresSource.PowerShell.csproj", "--no-build", "-c", ModuleLayout.Configuration, "-o", output })
            {
                start.ArgumentList.Add(argument);
            }
            using var process = Process.Start(start)!;
            var log = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, log);

            var package = Assert.Single(Directory.GetFiles(output, "PostgresSource.*.nupkg"));
            using var zip = ZipFile.OpenRead(package);
            var entries = zip.Entries.Select(e => e.FullName).ToList();
            Assert.Contains("PostgresSource.psd1", entries);
            Assert.Contains("PostgresSource.PowerShell.dll", entries);
            Assert.Contains("en-US/PostgresSource.PowerShell.dll-Help.xml", entries);
            Assert.Contains("dependencies/Npgsql.dll", entries);
            Assert.DoesNotContain(entries, e => e.EndsWith("System.Management.Automation.dll", StringComparison.Ordinal));

            using var nuspec = zip.GetEntry("PostgresSource.nuspec")!.Open();
            var metadata = XDocument.Load(nuspec).Root!.Elements().First(e => e.Name.LocalName == "metadata");
            var tags = metadata.Elements().First(e => e.Name.LocalName == "tags").Value.Split(' ');
            Assert.Contains("PSModule", tags);
            Assert.Contains("PSEdition_Core", tags);
            foreach (var cmdlet in ModuleMetadataTests.ManifestCmdlets())
            {
                Assert.Contains("PSCmdlet_" + cmdlet, tags);
            }
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }
}
