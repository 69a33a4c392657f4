using PostgresSource.TestSupport;

namespace PostgresSource.PowerShell.Tests;

/// <summary>Every test that needs PostgreSQL (or changes process environment variables) joins this collection.</summary>
[CollectionDefinition(Name)]
public sealed class DatabaseCollection : ICollectionFixture<DatabaseFixture>
{
    public const string Name = "database";
}
