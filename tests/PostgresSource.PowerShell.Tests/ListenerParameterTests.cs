using System.Collections;
using System.Management.Automation;
using System.Net;
using System.Net.Sockets;

namespace PostgresSource.PowerShell.Tests;

/// <summary>Start-PgSourceListener's delivery parameters: the enums map to the core by name, and the settings in force are what was asked.</summary>
public sealed class ListenerParameterTests
{
    /// <summary>
    /// Every member of a cmdlet enum maps to the core member of the same name, and every core member is reached:
    /// a member added on one side only, or reordered, fails here rather than being cast to the wrong one.
    /// </summary>
    [Theory]
    [InlineData("PgSourceDeliveryOrder", "PostgresSource.Core.Delivery.DeliveryOrder")]
    [InlineData("PgSourceUndeliverableAction", "PostgresSource.Core.Delivery.UndeliverableAction")]
    [InlineData("PgSourceContentMode", "PostgresSource.Core.Delivery.EventContentMode")]
    public void CmdletEnumsMapToTheCoreByName(string cmdletEnum, string coreEnum)
    {
        using var ps = PowerShellSession.Open();
        var result = ps.Run("""
            $type = [type]"PostgresSource.PowerShell.$name"
            $map = $type.Assembly.GetType('PostgresSource.PowerShell.Infrastructure.CoreEnumMap', $true)
            $method = $map.GetMethod('ToCore', [type[]]@($type))
            foreach ($value in [Enum]::GetValues($type)) {
                $core = $method.Invoke($null, @($value))
                '{0}={1}:{2}' -f $value, $core.GetType().FullName, $core
            }
            '#core=' + ([Enum]::GetNames($method.ReturnType) -join ',')
            """, new Hashtable { ["name"] = cmdletEnum });
        AssertEveryMemberMapsToItsName(result, "#core=", coreEnum);
    }

    /// <summary>The other direction (core values shown to the user): each core member comes out as the cmdlet member of its name.</summary>
    [Theory]
    [InlineData("PostgresSource.Core.Sources.CaptureMode", "PgSourceMode")]
    [InlineData("PostgresSource.Kubernetes.ChangeAction", "PgSourceClusterAction")]
    public void CoreEnumsMapToTheCmdletsByName(string coreEnum, string cmdletEnum)
    {
        using var ps = PowerShellSession.Open();
        var result = ps.Run("""
            $cmdlet = [type]"PostgresSource.PowerShell.$name"
            $map = $cmdlet.Assembly.GetType('PostgresSource.PowerShell.Infrastructure.CoreEnumMap', $true)
            $method = $map.GetMethods() | Where-Object { $_.Name -eq 'ToPowerShell' -and $_.GetParameters()[0].ParameterType.FullName -eq $core }
            foreach ($value in [Enum]::GetValues($method.GetParameters()[0].ParameterType)) {
                $shown = $method.Invoke($null, @($value))
                '{0}={1}:{2}' -f $value, $shown.GetType().Name, $shown
            }
            '#cmdlet=' + ([Enum]::GetNames($cmdlet) -join ',')
            """, new Hashtable { ["name"] = cmdletEnum, ["core"] = coreEnum });
        AssertEveryMemberMapsToItsName(result, "#cmdlet=", cmdletEnum);
    }

    /// <summary>
    /// The script's lines "member=TargetType:member" all map a member to the one of its name, and the "marker" line
    /// (the target's member names) shows every target member reached.
    /// </summary>
    private static void AssertEveryMemberMapsToItsName(PowerShellSession.Result result, string marker, string targetType)
    {
        Assert.Null(result.Terminating);
        Assert.Empty(result.Errors);
        var lines = result.Output.Select(o => o.ToString()).ToList();
        var targetNames = lines.Single(l => l.StartsWith(marker, StringComparison.Ordinal))[marker.Length..].Split(',');
        var pairs = lines.Where(l => !l.StartsWith('#')).Select(l => l.Split('=', 2)).ToList();
        Assert.NotEmpty(pairs);
        Assert.All(pairs, p => Assert.Equal($"{targetType}:{p[0]}", p[1]));
        Assert.Equal(targetNames.Order(), pairs.Select(p => p[0]).Order());
    }

    public static TheoryData<string, string> Settings() => new()
    {
        { "", "commit order, 1 in flight, retries: no limit, undeliverable changes stop the listener." },
        { "-Ordering Key", "per-key order, 4 in flight," },
        { "-Ordering Unordered -MaxInFlight 7", "no order, 7 in flight," },
        { "-Ordering Unordered -MaxConcurrentDeliveries 5", "no order, 5 in flight," },
        { "-Ordering Commit -MaxInFlight 1", "commit order, 1 in flight," },
        { "-MaxAttempts 3 -MaxRetryTime 00:01:30", "retries: 3 attempt(s) or 90 s of retrying," },
        { "-MaxRetryTime 00:00:20", "retries: 20 s of retrying," },
        { "-OnUndeliverable Skip", "undeliverable changes skipped (reported)." },
    };

    /// <summary>The listener's settings, as its verbose start line shows them (the database is unreachable: nothing else happens).</summary>
    [Theory]
    [MemberData(nameof(Settings))]
    public void TheDeliverySettingsInForceAreTheOnesAskedFor(string parameters, string expected)
    {
        using var ps = PowerShellSession.Open();
        var result = ps.Run($"New-PgSource -Name shop -Table orders -ConnectionString $cs | Start-PgSourceListener -Sink http://127.0.0.1:9/ -MaxEvents 1 -Verbose {parameters}",
            new Hashtable { ["cs"] = $"Host=127.0.0.1;Port={FreePort()};Username=u;Database=d;Timeout=3" });
        Assert.Null(result.Terminating);
        var line = Assert.Single(result.Verbose, v => v.StartsWith("Listening for default/shop", StringComparison.Ordinal));
        Assert.Contains(expected, line);
        // The listener did start (and then found no database).
        Assert.Equal("PgSource.ConnectionFailed,PostgresSource.PowerShell.Cmdlets.StartPgSourceListenerCommand", Assert.Single(result.Errors).FullyQualifiedErrorId);
    }

    /// <summary>-PollInterval reaches a Durable source's capture; the default is the core's one default.</summary>
    [Theory]
    [InlineData("", "journal read at least every 100 ms")]
    [InlineData("-PollInterval 00:00:00.025", "journal read at least every 25 ms")]
    [InlineData("-PollInterval 00:00:05", "journal read at least every 5000 ms")]
    public void TheJournalPollIntervalInForceIsTheOneAskedFor(string parameters, string expected)
    {
        using var ps = PowerShellSession.Open();
        var result = ps.Run($"New-PgSource -Name shop -Table orders -Mode Durable -ConnectionString $cs | Start-PgSourceListener -Sink http://127.0.0.1:9/ -MaxEvents 1 -Verbose {parameters}",
            new Hashtable { ["cs"] = $"Host=127.0.0.1;Port={FreePort()};Username=u;Database=d;Timeout=3" });
        Assert.Null(result.Terminating);
        var line = Assert.Single(result.Verbose, v => v.StartsWith("Listening for default/shop", StringComparison.Ordinal));
        Assert.Contains(expected, line);
    }

    [Theory]
    [InlineData("-MaxInFlight 2", "-Ordering Key")]
    [InlineData("-Ordering Commit -MaxInFlight 8", "-Ordering Key")]
    [InlineData("-MaxRetryTime ([timespan]'-00:00:01')", "MaxRetryTime")]
    [InlineData("-PollInterval 0", "poll interval")]
    [InlineData("-PollInterval 00:02:00", "poll interval")]
    public void ImpossibleDeliverySettingsStopTheCommandBeforeItStarts(string parameters, string named)
    {
        using var ps = PowerShellSession.Open();
        var result = ps.Run($"New-PgSource -Name shop -Table orders -ConnectionString 'Host=127.0.0.1;Port=1;Username=u;Database=d' | Start-PgSourceListener -MaxEvents 1 -Verbose {parameters}");
        var error = TheError(result);
        Assert.Equal("PgSource.InvalidParameter,PostgresSource.PowerShell.Cmdlets.StartPgSourceListenerCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.Contains(named, error.Exception.Message + " " + error.ErrorDetails?.RecommendedAction);
        Assert.DoesNotContain(result.Verbose, v => v.StartsWith("Listening for", StringComparison.Ordinal));
    }

    /// <summary>A dead-letter sink that is not an http or https URL is refused also when the events go to the pipeline (where it is not used).</summary>
    [Fact]
    public void AWrongDeadLetterSinkIsRefusedWithoutASinkToo()
    {
        using var ps = PowerShellSession.Open();
        var result = ps.Run("New-PgSource -Name shop -Table orders -ConnectionString 'Host=127.0.0.1;Port=1;Username=u;Database=d' | Start-PgSourceListener -DeadLetterSink ftp://files.example/ -MaxEvents 1");
        var error = TheError(result);
        Assert.Equal("PgSource.InvalidSink,PostgresSource.PowerShell.Cmdlets.StartPgSourceListenerCommand", error.FullyQualifiedErrorId);
        Assert.Contains("dead-letter sink 'ftp://files.example/' is not an absolute http or https URL", error.Exception.Message);
    }

    [Fact]
    public void PeekIsItsOwnParameterSet()
    {
        using var ps = PowerShellSession.Open();
        var listed = ps.Run("""
            foreach ($set in (Get-Command Start-PgSourceListener).ParameterSets) {
                $names = [string[]]@($set.Parameters | ForEach-Object Name | Where-Object { $_ -in 'Peek', 'Standby', 'Snapshot' })
                [Array]::Sort($names)
                "$($set.Name):$($set.IsDefault):$($names -join ',')"
            }
            """);
        Assert.Empty(listed.Errors);
        var sets = listed.Output.Select(o => o.ToString()).Order().ToList();
        Assert.Equal(["Listen:True:Snapshot,Standby", "Peek:False:Peek"], sets);
        var both = ps.Run("New-PgSource -Name shop -Table orders -Mode Durable | Start-PgSourceListener -Peek -Standby");
        Assert.Equal("AmbiguousParameterSet,PostgresSource.PowerShell.Cmdlets.StartPgSourceListenerCommand", TheError(both).FullyQualifiedErrorId);
    }

    /// <summary>A terminating error ends a script statement: it is either thrown or in the error stream.</summary>
    private static ErrorRecord TheError(PowerShellSession.Result result) =>
        result.Terminating is RuntimeException { ErrorRecord: { } record } ? record : Assert.Single(result.Errors);

    private static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }
}
