using System.Text.Json;
using Npgsql.Replication.PgOutput.Messages;

namespace PostgresSource.Core.Capture.Logical;

/// <summary>
/// What the JSON of a relation's rows needs from its Relation message, prepared once per relation rather
/// than per row: the names already JSON-encoded, the type of each column.
/// </summary>
internal sealed class RelationColumns
{
    private RelationColumns(RelationMessage relation)
    {
        Schema = relation.Namespace;
        Table = relation.RelationName;
        EncodedSchema = JsonEncodedText.Encode(Schema);
        EncodedTable = JsonEncodedText.Encode(Table);
        var count = relation.Columns.Count;
        Names = new JsonEncodedText[count];
        Types = new uint[count];
        for (var i = 0; i < count; i++)
        {
            Names[i] = JsonEncodedText.Encode(relation.Columns[i].ColumnName);
            Types[i] = relation.Columns[i].DataTypeId;
        }
    }

    public string Schema { get; }
    public string Table { get; }
    public JsonEncodedText EncodedSchema { get; }
    public JsonEncodedText EncodedTable { get; }
    public JsonEncodedText[] Names { get; }
    public uint[] Types { get; }

    /// <summary>
    /// The prepared columns of each relation of one stream. Npgsql reuses one RelationMessage object per
    /// relation id and refills it when the server sends the relation again (after ALTER TABLE), so an entry
    /// is dropped whenever its Relation message comes by, and all of them when a new stream starts.
    /// </summary>
    public sealed class Cache
    {
        private readonly Dictionary<uint, RelationColumns> _byId = new();

        public RelationColumns For(RelationMessage relation)
        {
            if (!_byId.TryGetValue(relation.RelationId, out var columns))
            {
                columns = new RelationColumns(relation);
                _byId[relation.RelationId] = columns;
            }
            return columns;
        }

        public void Forget(uint relationId) => _byId.Remove(relationId);

        public void Clear() => _byId.Clear();
    }
}
