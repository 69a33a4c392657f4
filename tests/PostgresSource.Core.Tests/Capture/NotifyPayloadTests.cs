using System.Text.Json;
using PostgresSource.Core.Connections;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Database;
using PostgresSource.Core.Sources;
using PostgresSource.Core.Capture.Notify;

namespace PostgresSource.Core.Tests.Capture;

/// <summary>Notify mode's reading of a notification payload (one pass, no document), without a server.</summary>
public sealed class NotifyPayloadTests
{
    private static NotifyCapture Capture() => new(
        new SourceDefinition { Name = "shop", Uid = Guid.NewGuid().ToString(), Tables = [TableName.Parse("sales.orders"), TableName.Parse("items")] }.Validate(),
        ConnectionSettings.Parse("Host=localhost;Database=unused"));

    [Fact]
    public void ThisProductsPayloadAndTheSeedsAreRead()
    {
        var capture = Capture();
        var ours = """{"table" : "orders", "schema" : "sales", "action" : "UPDATE", "truncated" : true, "data" : {"id" : 1, "table" : "not this", "action" : "DELETE"}}""";
        var change = capture.Parse(ours);
        Assert.Equal(("sales", "orders", ChangeOperation.Update, true), (change.Schema, change.Table, change.Operation, change.Truncated));
        Assert.Same(ours, change.PayloadJson);

        // The seed's trigger sends no schema: the source's table list says where the table is, else public.
        Assert.Equal(("sales", "orders", ChangeOperation.Insert, false),
            Read(capture.Parse("""{"table":"orders","action":"INSERT","data":{"id":2}}""")));
        Assert.Equal(("public", "items", ChangeOperation.Delete, false),
            Read(capture.Parse("""{"table":"items","action":"delete","data":null}""")));
        // Fields in any order, escaped text, a schema that is not a string, the last of a repeated field.
        Assert.Equal(("public", "new\"table", ChangeOperation.Truncate, false),
            Read(capture.Parse("""{"data":[1,{"x":"y"}],"action":"TRUNCATE","schema":null,"table":"old","table":"new\u0022table","truncated":false}""")));
        Assert.Equal(("sales", "orders", ChangeOperation.Insert, false), Read(capture.Parse(" \n{\"table\":\"or\\u0064ers\",\"action\":\"INSERT\"}\n ")));
    }

    [Fact]
    public void KnownTableAndSchemaNamesAreNotCopiedPerChange()
    {
        var capture = Capture();
        var a = capture.Parse("""{"table":"orders","schema":"sales","action":"INSERT"}""");
        var b = capture.Parse("""{"table":"orders","schema":"sales","action":"INSERT"}""");
        Assert.Same(a.Table, b.Table);
        Assert.Same(a.Schema, b.Schema);
    }

    [Theory]
    [InlineData("not json", typeof(JsonException))]
    [InlineData("{\"table\":\"orders\",\"action\":\"INSERT\"", typeof(JsonException))]
    [InlineData("{\"table\":\"orders\",\"action\":\"INSERT\"} trailing", typeof(JsonException))]
    [InlineData("{\"table\":\"orders\",\"action\":\"INSERT\",\"data\":{\"id\":}}", typeof(JsonException))]
    [InlineData("[1, 2]", typeof(FormatException))]
    [InlineData("\"text\"", typeof(FormatException))]
    [InlineData("{\"action\":\"INSERT\",\"data\":{\"table\":\"orders\"}}", typeof(FormatException))]
    [InlineData("{\"table\":\"orders\"}", typeof(FormatException))]
    [InlineData("{\"table\":null,\"action\":\"INSERT\"}", typeof(FormatException))]
    [InlineData("{\"table\":7,\"action\":\"INSERT\"}", typeof(FormatException))]
    [InlineData("{\"table\":\"orders\",\"action\":{\"op\":\"INSERT\"}}", typeof(FormatException))]
    [InlineData("{\"table\":\"orders\",\"action\":\"MERGE\"}", typeof(FormatException))]
    public void WhatIsNotAChangeIsRefused(string payload, Type error)
    {
        var thrown = Record.Exception(() => Capture().Parse(payload));
        Assert.NotNull(thrown);
        Assert.IsAssignableFrom(error, thrown);
    }

    [Fact]
    public void ADroppedPayloadIsNamedFromItsStartAndOnlyWhatIsNotAChangeIsNull()
    {
        var capture = Capture();
        var big = new string('é', 3000);
        // This product's payload, a large row: named from the fields before "data".
        Assert.Equal(("sales", "orders", ChangeOperation.Update),
            capture.ReadHeader($"{{\"table\" : \"orders\", \"schema\" : \"sales\", \"action\" : \"UPDATE\", \"data\" : {{\"item\" : \"{big}\"}}}}"));
        // The seed's, short: no schema, so the source's table list says where the table is.
        Assert.Equal(("public", "items", ChangeOperation.Delete), capture.ReadHeader("""{"table":"items","action":"DELETE","data":{"id":1}}"""));
        // "data" first and longer than what is read from the start: the whole payload is read.
        Assert.Equal(("public", "other", ChangeOperation.Insert),
            capture.ReadHeader($"{{\"data\":{{\"item\":\"{big}\"}},\"table\":\"other\",\"action\":\"INSERT\"}}"));
        // Cut inside a surrogate pair or a multi-byte character at the end of the start: still read right.
        var emoji = string.Concat(Enumerable.Repeat("😀", 400));
        Assert.Equal(("public", "x", ChangeOperation.Insert), capture.ReadHeader($"{{\"note\":\"{emoji}\",\"table\":\"x\",\"action\":\"INSERT\"}}"));

        Assert.Null(capture.ReadHeader("not json"));
        Assert.Null(capture.ReadHeader("""{"table":"orders","action":"MERGE","data":{}}"""));
        Assert.Null(capture.ReadHeader($"{{\"data\":{{\"item\":\"{big}\"}},\"action\":\"INSERT\"}}"));
        Assert.Null(capture.ReadHeader("""{"table":"orders","data":{}}"""));
    }

    private static (string, string, ChangeOperation, bool) Read(CapturedChange change) => (change.Schema, change.Table, change.Operation, change.Truncated);
}
