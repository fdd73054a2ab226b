import { useState } from 'preact/hooks';

/**
 * One user action at a time: `run` marks the view busy, clears the last error, and keeps
 * whatever the action throws (an ApiError with our envelope, usually) for an ErrorBox.
 */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}
