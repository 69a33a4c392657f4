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
}
