// Program.cs names NotifyCapture, which moved to Capture/Notify with the rest of Notify mode. Program.cs is being
// rewritten on another branch: this keeps it building untouched; that rewrite may take a plain using and drop this file.
global using PostgresSource.Core.Capture.Notify;
