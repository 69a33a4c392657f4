using System.Text;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.Http;
using PostgresSource.Core.Capture;
using PostgresSource.Core.Delivery;
using PostgresSource.Core.Events;
using PostgresSource.Core.Sources;

namespace PostgresSource.Core.Tests.Delivery;

/// <summary>The encoding of text from the database in string attributes (AttributeText), and the checks of configured values.</summary>
public sealed class AttributeTextTests
{
    [Theory]
    [InlineData("we\tird", "we%09ird")]
    [InlineData("line\nbreak\r", "line%0Abreak%0D")]
    [InlineData("50% off", "50%25 off")]
    [InlineData("%09", "%2509")]
    [InlineData("next\u0085line", "next%C2%85line")]
    [InlineData("\u0000\u001F\u007F\u009F", "%00%1F%7F%C2%9F")]
    [InlineData("non\uFFFEchar\uFDD0", "non%EF%BF%BEchar%EF%B7%90")]
    [InlineData("astral \U0001FFFF", "astral %F0%9F%BF%BF")]
    public void ForbiddenCharactersAndPercentBecomeTheirUtf8BytesPercentEncoded(string text, string encoded)
    {
        Assert.Equal(encoded, AttributeText.Encode(text));
        Assert.Equal(text, AttributeText.Decode(encoded));
        Assert.Equal(text, Uri.UnescapeDataString(encoded));
        CloudEventAttributeType.String.Validate(encoded);
    }

    [Theory]
    [InlineData("orders")]
    [InlineData("Crème brûlée, \"quoted\" and 'single'")]
    [InlineData("日本語 テーブル")]
    [InlineData("emoji 😀 and spaces")]
    [InlineData("dots.and;semi:colons/slashes\\back+plus=eq&amp?q#h")]
    [InlineData("\u00A0no-break space \u00A0 and U+00A0 is not a control")]
    [InlineData("")]
    public void EverythingElseIsKeptAsItIsWithoutANewString(string text)
    {
        Assert.Same(text, AttributeText.Encode(text));
        Assert.Null(AttributeText.Problem(text));
    }

    [Fact]
    public void AnUnpairedSurrogateBecomesTheReplacementCharactersBytes()
    {
        Assert.Equal("a%EF%BF%BDb", AttributeText.Encode("a\uD800b"));
        Assert.Equal("%EF%BF%BD", AttributeText.Encode("\uDC00"));
        Assert.Equal("x😀%EF%BF%BD", AttributeText.Encode("x😀\uD83D"));
    }

    [Fact]
    public void EveryCodePointEncodesToAStringTheSdkAcceptsAndDecodesBack()
    {
        var all = new StringBuilder();
        for (var c = 0; c <= 0x10FFFF; c++)
        {
            if (c is < 0xD800 or > 0xDFFF)
            {
                all.Append(char.ConvertFromUtf32(c));
            }
        }
        var text = all.ToString();
        var encoded = AttributeText.Encode(text);
        CloudEventAttributeType.String.Validate(encoded);
        Assert.Equal(text, AttributeText.Decode(encoded));

        // Exactly what must be: 65 control characters, '%', and the 66 noncharacters (U+FDD0-U+FDEF, ..FFFE/..FFFF in 17 planes).
        var changed = Enumerable.Range(0, 0x110000).Where(c => c is < 0xD800 or > 0xDFFF)
            .Select(char.ConvertFromUtf32).Count(c => !ReferenceEquals(c, AttributeText.Encode(c)));
        Assert.Equal(65 + 1 + 66, changed);
    }

    [Theory]
    [InlineData("a\tb", "U+0009, a control character, at position 2")]
    [InlineData("x\u0085", "U+0085, a control character, at position 2")]
    [InlineData("\uFFFF", "U+FFFF, a Unicode noncharacter, at position 1")]
    public void AProblemNamesTheFirstForbiddenCharacter(string text, string problem) => Assert.Equal(problem, AttributeText.Problem(text));

    [Fact]
    public void AnUnpairedSurrogateIsAProblem() => Assert.Equal("U+D800, an unpaired surrogate, at position 3", AttributeText.Problem("ab\uD800"));

    [Fact]
    public void PercentAndNonAsciiAreAllowedInConfiguredValues()
    {
        Assert.Null(AttributeText.Problem("100% café"));
        Assert.Null(CeOverrides.ValueProblem("100% café"));
        Assert.Null(ChangeEventFactory.EventTypeProblem("com.example.row-änderung"));
    }
}
