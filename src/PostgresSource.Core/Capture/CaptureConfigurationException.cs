namespace PostgresSource.Core.Capture;

/// <summary>The capture cannot work as configured (not installed in this mode, no permission, wrong server settings); retrying will not help.</summary>
internal sealed class CaptureConfigurationException(string message, Exception? inner = null) : Exception(message, inner);
