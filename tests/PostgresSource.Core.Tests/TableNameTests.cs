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

    private static readonly string[] Hostile =
    [
        "a,b", "say \"hi\"", "it's", "tab\there", "line\nbreak", " spaced ", "Bestellungen_ü", "注文", "dot.ted", "\"", ",", ".",
        "\"a\".\"b\"", "\"\"", " ", "\t", "x\u00a0", "\u0085y", "a, \"b\".c",
    ];

    public static IEnumerable<object?[]> HostilePairs() =>
        Hostile.SelectMany(table => new object?[][] { [null, table], ["public", table], [table, table], [table, "orders"] });

    [Theory]
    [MemberData(nameof(HostilePairs))]
    public void EveryNameReadsBackAsWritten(string? schema, string name)
    {
        var table = new TableName(schema, name);
        Assert.Equal(table, TableName.Parse(table.ToText()));
        var list = new[] { new TableName(null, "orders"), table, new TableName("s", "last") };
        Assert.Equal(list, TableName.ParseList(TableName.FormatList(list)));
    }

    [Fact]
    public void RandomListsOfHostileNamesRoundTrip()
    {
        // Property-style: many lists of random names from the characters that break naive formats.
        const string alphabet = "ab,\"'.\t\n \u00a0\u0085üß注文_-;=\\$";
        var random = new Random(1313);
        string Name() => new(Enumerable.Range(0, random.Next(1, 9)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
        for (var round = 0; round < 2000; round++)
        {
            var tables = Enumerable.Range(0, random.Next(1, 5))
                .Select(_ => new TableName(random.Next(3) == 0 ? null : Name(), Name()))
                .ToList();
            var text = TableName.FormatList(tables);
            Assert.True(tables.SequenceEqual(TableName.ParseList(text)), $"round {round}: {text}");
        }
    }

    [Theory]
    [InlineData("orders,public.items", new[] { null, "orders", "public", "items" })]
    [InlineData(" orders , public.items ", new[] { null, "orders", "public", "items" })]
    [InlineData("sales.\"Big, Orders\"", new[] { "sales", "Big, Orders" })]
    public void ListsWrittenByHandReadAsBefore(string text, string?[] expected)
    {
        var read = TableName.ParseList(text).SelectMany(t => new[] { t.Schema, t.Name }).ToArray();
        Assert.Equal(expected, read);
    }

    [Fact]
    public void AnEmptyListIsEmpty()
    {
        Assert.Empty(TableName.ParseList(null));
        Assert.Empty(TableName.ParseList(" "));
    }
}
