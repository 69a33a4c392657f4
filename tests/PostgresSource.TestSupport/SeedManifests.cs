namespace PostgresSource.TestSupport;

/// <summary>The seed README's YAML, byte for byte, shared by every test that proves it loads unchanged.</summary>
public static class SeedManifests
{
    public const string Secret = """
        apiVersion: v1
        kind: Secret
        metadata:
          name: sql-secret
          namespace: default
        stringData:
          connectionstr: postgres://foobar:really@127.0.0.1:5432/users
        """;

    public const string Source = """
        apiVersion: sources.vaikas.dev/v1alpha1
        kind: PostgresSource
        metadata:
          name: vaikaspostgres
          namespace: default
        spec:
          tables:
          - name: orders
          secret:
            name: sql-secret
          sink:
            ref:
              apiVersion: eventing.knative.dev/v1beta1
              kind: Broker
              name: default
        """;

    /// <summary>The Secret and the PostgresSource as the seed's README has a user apply them, in one file.</summary>
    public const string SecretAndSource = Secret + "\n---\n" + Source;

    /// <summary>The seed's source with its sink reference replaced, for tests of other sink kinds.</summary>
    public static string SourceWithSinkRef(string apiVersion, string kind, string name)
    {
        const string seedRef = "apiVersion: eventing.knative.dev/v1beta1\n      kind: Broker\n      name: default";
        if (!Source.Contains(seedRef, StringComparison.Ordinal))
        {
            throw new InvalidOperationException("The seed YAML no longer has the sink reference this helper replaces.");
        }
        return Source.Replace(seedRef, $"apiVersion: {apiVersion}\n      kind: {kind}\n      name: {name}", StringComparison.Ordinal);
    }
}
