namespace PostgresSource.Core.Capture;

/// <summary>Raising a capture's <see cref="IChangeCapture.Notice"/> the way every capture must: a handler's failure is not the capture's.</summary>
internal static class CaptureNotices
{
    public static void RaiseSafely(this Action<CaptureNotice>? handler, string message, bool possibleLoss)
    {
        try
        {
            handler?.Invoke(new CaptureNotice(message, possibleLoss));
        }
        catch (Exception)
        {
            // Swallowed on purpose: a listener's report handler must not stop capture.
        }
    }
}
