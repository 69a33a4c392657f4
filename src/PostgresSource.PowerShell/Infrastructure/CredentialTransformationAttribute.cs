using System.Management.Automation;
using System.Security;

namespace PostgresSource.PowerShell.Infrastructure;

/// <summary>
/// -Credential takes what users have: a PSCredential (Get-Credential, or SecretManagement's Get-Secret for a
/// credential secret), a SecureString alone (Get-Secret for a password secret: the user name then comes from the
/// connection string), or a user name, which prompts for the password as [Credential()] does.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
internal sealed class CredentialTransformationAttribute : ArgumentTransformationAttribute
{
    // PSCredential needs a user name; these were made from a SecureString alone and carry none.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<PSCredential, object> PasswordOnlyCredentials = new();

    /// <summary>The credential holds only a password: the connection string's user name stays.</summary>
    public static bool IsPasswordOnly(PSCredential credential) => PasswordOnlyCredentials.TryGetValue(credential, out _);

    private static PSCredential PasswordOnly(SecureString password)
    {
        var credential = new PSCredential(" ", password);
        PasswordOnlyCredentials.Add(credential, credential);
        return credential;
    }

    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData) =>
        (inputData is PSObject wrapped ? wrapped.BaseObject : inputData) switch
        {
            null => null,
            PSCredential credential => credential,
            SecureString password => PasswordOnly(password),
            _ => new CredentialAttribute().Transform(engineIntrinsics, inputData),
        };
}
