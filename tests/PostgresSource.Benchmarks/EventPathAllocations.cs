using CloudNative.CloudEvents;
using CloudNative.CloudEvents.Http;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Events;
using PostgresSource.Core.Sources;

namespace PostgresSource.Benchmarks;

/// <summary>
/// Bytes allocated per event on the listener's CPU path that does not touch the network: the CloudEvent from
/// a captured change (ChangeEventFactory) and the binary-mode HTTP content with its ce-* headers, written out.
/// </summary>
internal static class EventPathAllocations
{
    public static (double Create, double Content, double MicrosPerEvent) Measure(int count = 20_000)
    {
        var source = new SourceDefinition { Name = "alloc", Tables = [TableName.Parse("public.bench_p1")] }.Validate();
        var factory = new ChangeEventFactory(source);
        var change = new CapturedChange
        {
            Schema = "public",
            Table = "bench_p1",
            Operation = ChangeOperation.Insert,
            PayloadJson = """{"table":"bench_p1","schema":"public","action":"INSERT","data":{"id":1,"customer":42,"item":"widget-42","qty":1,"created":"2026-11-23T22:00:00+00:00"}}""",
        };
        var now = DateTimeOffset.UtcNow;
        var events = new CloudEvent[count];
        Run(1000); // warm-up
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < events.Length; i++)
        {
            events[i] = factory.Create(change, now);
        }
        var create = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)events.Length;
        before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var e in events)
        {
            using var content = e.ToHttpContent(ContentMode.Binary, PayloadJsonFormatter.Instance);
            using var message = new HttpRequestMessage(HttpMethod.Post, "http://sink/") { Content = content };
            _ = message.Headers.ToString().Length;
            content.CopyTo(Stream.Null, null, default);
        }
        var written = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)events.Length;
        return (create, written, clock.Elapsed.TotalMicroseconds / events.Length);

        void Run(int n)
        {
            for (var i = 0; i < n; i++)
            {
                using var content = factory.Create(change, now).ToHttpContent(ContentMode.Binary, PayloadJsonFormatter.Instance);
                content.CopyTo(Stream.Null, null, default);
            }
        }
    }
}
