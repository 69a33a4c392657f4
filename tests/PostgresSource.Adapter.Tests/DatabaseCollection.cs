using PostgresSource.TestSupport;

namespace PostgresSource.Adapter.Tests;

/// <summary>Every test that needs PostgreSQL joins this collection and shares one server.</summary>
[CollectionDefinition(Name)]
public sealed class DatabaseCollection : ICollectionFixture<DatabaseFixture>
{
    public const string Name = "database";
}
