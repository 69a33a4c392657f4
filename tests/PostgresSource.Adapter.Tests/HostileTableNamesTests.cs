using PostgresSource.Core.Events;
using PostgresSource.Kubernetes;
using PostgresSource.Kubernetes.Manifests;
using PostgresSource.Core.Sources;
using PostgresSource.TestReceivers;
using PostgresSource.TestSupport;
using Xunit.Abstractions;

namespace PostgresSource.Adapter.Tests;

/// <summary>
/// A schema and table named with commas, quotes, tabs, newlines and non-ASCII letters go through every place a
/// table list is written and read: the exported Deployment's PGSOURCE_TABLES, the adapter's parser, the adapter's
/// install, and the events it sends.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class HostileTableNamesTests(DatabaseFixture database, ITestOutputHelper output)
{
    private const string Schema = "Sch,\"ema'\tü";
    private const string Table = "Bestellungen_ü, \"x\".y\n注文";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"") + "\"";

    [Theory]
    [InlineData(CaptureMode.Durable)]
    [InlineData(CaptureMode.Notify)]
    public async Task AHostileTableIsExportedReadBackInstalledAndNamedInItsEvents(CaptureMode mode)
    {
        var db = await database.CreateDatabaseAsync("h");
        var qualified = Quote(Schema) + "." + Quote(Table);
        await TestSql.ExecuteAsync(db, $"CREATE SCHEMA {Quote(Schema)}; CREATE TABLE {qualified} (id int PRIMARY KEY, note text); CREATE TABLE plain (id int PRIMARY KEY)");
        var tables = new[] { new TableName(Schema, Table), new TableName(null, "plain") };
        var source = new SourceDefinition { Name = "hostile", Uid = Guid.NewGuid().ToString(), Mode = mode, Tables = tables }.Validate();

        await using var receiver = await CloudEventReceiver.StartAsync();
        var deployment = SourceObjects.Deployment(source, receiver.Url.ToString(), "adapter:test");
        var environment = deployment.Spec.Template.Spec.Containers[0].Env
            .Where(e => e.Value is not null)
            .ToDictionary(e => e.Name, e => e.Value);
        output.WriteLine("PGSOURCE_TABLES=" + environment["PGSOURCE_TABLES"]);

        // The Secret reference is the cluster's part; here the connection is given directly.
        environment["PGSOURCE_CONNECTION"] = db;
        environment["PGSOURCE_HTTP_PORT"] = AdapterProcess.FreePort().ToString();
        var config = AdapterConfig.Load([], name => environment.GetValueOrDefault(name));
        Assert.Equal(tables, config.Source.Tables);

        await using var adapter = AdapterProcess.Start(environment);
        await adapter.WaitForLogAsync(l => l.GetProperty("msg").GetString() == "listening", Patience);
        await TestSql.ExecuteAsync(db, $"INSERT INTO {qualified} VALUES (1, 'first'); INSERT INTO plain VALUES (2)");

        Assert.True(await receiver.WaitUntilAsync(r => r.Count(x => x.Event is not null) >= 2, Patience),
            string.Join("\n", adapter.Stdout.Concat(adapter.Stderr)));
        var events = receiver.Accepted;
        var hostile = Assert.Single(events, e => e.Subject != "public.plain");
        Assert.Equal(AttributeText.Encode(Schema + "." + Table), hostile.Subject);
        Assert.Equal(Schema + "." + Table, AttributeText.Decode(hostile.Subject!));
        Assert.Single(events, e => e.Subject == "public.plain");
        output.WriteLine("subject: " + hostile.Subject);
    }
}
