using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Tests;

public sealed class TableNameTests
{
    [Theory]
    [InlineData("orders", null, "orders")]
    [InlineData("sales.orders", "sales", "orders")]
    [InlineData("\"My Schema\".\"My Table\"", "My Schema", "My Table")]
    [InlineData("\"a.b\"", null, "a.b")]
    [InlineData("\"say \"\"hi\"\"\"", null, "say \"hi\"")]
    [InlineData("orders\"; DROP TABLE x; --", null, "orders\"; DROP TABLE x; --")]
    [InlineData("a.b.c", null, "a.b.c")]
    public void ParsesAsData(string text, string? schema, string name)
    {
        var table = TableName.Parse(text);
        Assert.Equal(schema, table.Schema);
        Assert.Equal(name, table.Name);
    }

    [Fact]
    public void EmptyIsRejected() => Assert.Throws<ArgumentException>(() => TableName.Parse("  "));

    [Theory]
    [InlineData("orders", new[] { "orders" })]
    [InlineData("orders, sales.items ,x", new[] { "orders", "sales.items", "x" })]
    [InlineData("orders,\"odd,name\"", new[] { "orders", "\"odd,name\"" })]
    [InlineData("sales.\"Big, Orders\",\"say \"\"a,b\"\"\"", new[] { "sales.\"Big, Orders\"", "\"say \"\"a,b\"\"\"" })]
    [InlineData(" , ,orders,", new[] { "orders" })]
    public void SplitsAListAtCommasOutsideQuotes(string text, string[] names) => Assert.Equal(names, TableName.SplitList(text));
}
