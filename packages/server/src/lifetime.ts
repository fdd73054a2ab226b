/**
 * Sandbox lifetimes: deadlines from a number of seconds, and the server-wide default lifetime
 * (`--default-lifetime-seconds`) given to every sandbox a fork creates.
 */
import type { Engine } from '@mitos/engine';

export function deadlineAfter(nowMs: number, seconds: number): Date {
  return new Date(nowMs + seconds * 1000);
}

/** Whole unix seconds; a deadline inside a second reports that second (never later than the real one). */
export function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/**
 * Gives new sandboxes the default deadline. A sandbox that cannot get one is terminated: the
 * operator asked for nothing to outlive the default, and a failed request is retryable.
 */
export async function applyDefaultLifetime(engine: Engine, ids: readonly string[], seconds: number): Promise<void> {
  if (seconds <= 0) return;
  const deadline = deadlineAfter(Date.now(), seconds);
  try {
    await Promise.all(ids.map((id) => engine.setDeadline(id, deadline)));
  } catch (err) {
    await Promise.allSettled(ids.map((id) => engine.terminate(id)));
    throw err;
  }
}
