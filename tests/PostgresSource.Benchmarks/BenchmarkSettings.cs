namespace PostgresSource.Benchmarks;

/// <summary>Knobs of one benchmark run; --quick makes a smoke run that only proves the harness works.</summary>
internal sealed record BenchmarkSettings
{
    public int Rounds { get; init; } = 3;
    public int P3Seconds { get; init; } = 5;
    /// <summary>P3 pairs (without, with) per variant: five short pairs resist a shared machine's bursts better than three long ones.</summary>
    public int P3Rounds { get; init; } = 5;
    public int WriterClients { get; init; } = 2;
    public int P1Events { get; init; } = 50_000;
    public int P2Rate { get; init; } = 1_000;
    public int P2Seconds { get; init; } = 10;
    /// <summary>Seconds of paced rows before P2's measured ones (not counted): a listener in service is past JIT tiering and connection set-up.</summary>
    public int P2WarmupSeconds { get; init; } = 2;
    public int P4Events { get; init; } = 100_000;
    public bool Quick { get; init; }
    /// <summary>P1 is measured for each of these ListenerOptions.MaxConcurrentDeliveries (1 = ordered, the default).</summary>
    public IReadOnlyList<int> InFlight { get; init; } = [1, 4, 8, 16];

    public static BenchmarkSettings Parse(string[] args)
    {
        var settings = new BenchmarkSettings();
        if (args.Contains("--quick"))
        {
            settings = new BenchmarkSettings { Rounds = 1, P3Rounds = 1, P3Seconds = 2, P1Events = 2_000, P2Seconds = 2, P2WarmupSeconds = 1, P4Events = 5_000, Quick = true };
        }
        if (args.SkipWhile(a => a != "--in-flight").Skip(1).FirstOrDefault() is { } inFlight)
        {
            settings = settings with { InFlight = inFlight.Split(',').Select(int.Parse).ToList() };
        }
        else if (settings.Quick)
        {
            settings = settings with { InFlight = [1, 4] };
        }
        return settings;
    }
}
