using System.Collections;
using System.Management.Automation;
using PostgresSource.Core.Sources;

namespace PostgresSource.PowerShell.Infrastructure;

/// <summary>
/// -Table as users have it: an array, or one string of names separated by commas (a CSV cell from Import-Csv),
/// split as <see cref="TableName.SplitList"/> does, so a comma inside a double-quoted name is kept.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
internal sealed class TableListTransformationAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        IEnumerable items = value is string or null ? new[] { value } : value as IEnumerable ?? new[] { value };
        var names = new List<string>();
        foreach (var item in items)
        {
            var text = (item is PSObject inner ? inner.BaseObject : item)?.ToString();
            if (text is not null)
            {
                names.AddRange(TableName.SplitList(text));
            }
        }
        return names.ToArray();
    }
}

/// <summary>An empty string (an empty CSV cell) binds as "not given" instead of failing to convert.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
internal sealed class EmptyAsNullAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData) =>
        (inputData is PSObject wrapped ? wrapped.BaseObject : inputData) is string text && string.IsNullOrWhiteSpace(text) ? null : inputData;
}
