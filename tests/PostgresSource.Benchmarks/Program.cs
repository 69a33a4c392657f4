using System.Globalization;
using PostgresSource.Benchmarks;
using PostgresSource.Core.Sources;
using PostgresSource.TestSupport;

// One command: dotnet run -c Release --project tests/PostgresSource.Benchmarks [-- --quick]
// Provisions PostgreSQL like the tests, runs each measurement per capture mode, prints a Markdown table.
var settings = BenchmarkSettings.Parse(args);
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
Console.WriteLine($"PostgresSource benchmarks ({(settings.Quick ? "quick smoke run" : "full run")}) on {Environment.ProcessorCount} cores, .NET {Environment.Version}");

await using var server = await PostgresServer.StartAsync();
var database = await server.CreateDatabaseAsync("bench");
Console.WriteLine($"PostgreSQL: {server.Kind}");

var rows = new List<string>();
var p3 = new WriteOverheadBenchmark(settings);
foreach (var mode in new[] { CaptureMode.Notify })
{
    await using var drain = NotifyDrain.Create(database);
    var result = await p3.RunAsync(database, mode, source => drain.Listen(source.DatabaseObjectName));
    rows.Add($"| P3 write overhead | {mode} | {result.WithSourceTps:F0} / {result.BaselineTps:F0} tps | **{result.Ratio:F3}** | runs with: {string.Join(", ", result.WithSourceRuns.Select(v => v.ToString("F0")))}; without: {string.Join(", ", result.BaselineRuns.Select(v => v.ToString("F0")))} |");
}

Console.WriteLine();
Console.WriteLine("| figure | mode | measured | result | detail |");
Console.WriteLine("|---|---|---|---|---|");
rows.ForEach(Console.WriteLine);
