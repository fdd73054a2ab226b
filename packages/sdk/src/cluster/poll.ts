/**
 * Polls `check` every `intervalMs` until it returns a value, the deadline passes, or `signal`
 * aborts. The reference SDK polls claims every 50 ms; so does this.
 * @module
 */
export const POLL_INTERVAL_MS = 50;

export async function pollUntil<T>(
  check: () => Promise<T | undefined>,
  options: { timeoutMs: number; signal?: AbortSignal | undefined; onTimeout: () => Error; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (options.signal?.aborted) throw options.signal.reason;
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw options.onTimeout();
    await new Promise((resolve) =>
      setTimeout(resolve, Math.min(options.intervalMs ?? POLL_INTERVAL_MS, deadline - Date.now())),
    );
  }
}
