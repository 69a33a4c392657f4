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
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData) =>
        (inputData is PSObject wrapped ? wrapped.BaseObject : inputData) switch
        {
            null => null,
            PSCredential credential => credential,
            SecureString password => new PSCredential(string.Empty, password),
            _ => new CredentialAttribute().Transform(engineIntrinsics, inputData),
        };
}
