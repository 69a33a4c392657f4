using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;
using System.Text;

namespace PostgresSource.PowerShell.Tests;

/// <summary>
/// A non-interactive host that keeps what Out-Host/Out-Default print, so tests can see the module's
/// table views as a user would (Format-Table and Out-String are not in a CreateDefault2 session).
/// </summary>
internal sealed class CapturingHost : PSHost
{
    private readonly CapturingUserInterface _ui = new();

    /// <summary>When set, every PromptForChoice (confirmations) answers this choice and is recorded in <see cref="Prompts"/>; otherwise prompting is an error.</summary>
    public int? ChoiceAnswer { get => _ui.ChoiceAnswer; set => _ui.ChoiceAnswer = value; }

    /// <summary>The captions and messages of the choices answered with <see cref="ChoiceAnswer"/>.</summary>
    public IReadOnlyList<string> Prompts => _ui.Prompts;

    public string Text => _ui.Output.ToString();
    public override CultureInfo CurrentCulture => CultureInfo.InvariantCulture;
    public override CultureInfo CurrentUICulture => CultureInfo.InvariantCulture;
    public override Guid InstanceId { get; } = Guid.NewGuid();
    public override string Name => "PostgresSourceTestHost";
    public override PSHostUserInterface UI => _ui;
    public override Version Version => new(1, 0);
    public override void EnterNestedPrompt() => throw new NotSupportedException();
    public override void ExitNestedPrompt() => throw new NotSupportedException();
    public override void NotifyBeginApplication() { }
    public override void NotifyEndApplication() { }
    public override void SetShouldExit(int exitCode) { }

    private sealed class CapturingUserInterface : PSHostUserInterface
    {
        public StringBuilder Output { get; } = new();
        public int? ChoiceAnswer { get; set; }
        public List<string> Prompts { get; } = [];
        public override PSHostRawUserInterface RawUI { get; } = new FixedRawUserInterface();
        public override void Write(string value) => Output.Append(value);
        public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => Output.Append(value);
        public override void WriteLine(string value) => Output.AppendLine(value);
        public override void WriteErrorLine(string value) => Output.AppendLine(value);
        public override void WriteDebugLine(string message) { }
        public override void WriteProgress(long sourceId, ProgressRecord record) { }
        public override void WriteVerboseLine(string message) { }
        public override void WriteWarningLine(string message) { }
        public override Dictionary<string, PSObject> Prompt(string caption, string message, System.Collections.ObjectModel.Collection<FieldDescription> descriptions) => throw new NotSupportedException("non-interactive");
        public override int PromptForChoice(string caption, string message, System.Collections.ObjectModel.Collection<ChoiceDescription> choices, int defaultChoice)
        {
            if (ChoiceAnswer is not { } answer)
            {
                throw new NotSupportedException("non-interactive");
            }
            Prompts.Add(caption + ": " + message);
            return answer;
        }
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) => throw new NotSupportedException("non-interactive");
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName, PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) => throw new NotSupportedException("non-interactive");
        public override string ReadLine() => throw new NotSupportedException("non-interactive");
        public override SecureString ReadLineAsSecureString() => throw new NotSupportedException("non-interactive");
    }

    private sealed class FixedRawUserInterface : PSHostRawUserInterface
    {
        public override ConsoleColor BackgroundColor { get; set; }
        public override Size BufferSize { get; set; } = new(250, 100);
        public override Coordinates CursorPosition { get; set; }
        public override int CursorSize { get; set; }
        public override ConsoleColor ForegroundColor { get; set; }
        public override bool KeyAvailable => false;
        public override Size MaxPhysicalWindowSize => new(250, 100);
        public override Size MaxWindowSize => new(250, 100);
        public override Coordinates WindowPosition { get; set; }
        public override Size WindowSize { get; set; } = new(250, 100);
        public override string WindowTitle { get; set; } = string.Empty;
        public override void FlushInputBuffer() { }
        public override BufferCell[,] GetBufferContents(Rectangle rectangle) => throw new NotSupportedException();
        public override KeyInfo ReadKey(ReadKeyOptions options) => throw new NotSupportedException();
        public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill) { }
        public override void SetBufferContents(Coordinates origin, BufferCell[,] contents) { }
        public override void SetBufferContents(Rectangle rectangle, BufferCell fill) { }
    }
}
