/**
 * Time-based decisions about a claim, as pure functions of `now`: its maximum lifetime while
 * Ready, and how long it lingers once finished.
 * @module
 */
import { parseDuration } from './durations.js';

export const DEFAULT_TTL_AFTER_FINISHED_SECONDS = 600;

export interface Expiry {
  expired: boolean;
  /** Milliseconds until expiry (0 when expired); undefined when it never expires. */
  remainingMs: number | undefined;
}

const NEVER: Expiry = { expired: false, remainingMs: undefined };

/** `spec.timeout` counted from `status.startedAt`. */
export function lifetimeExpiry(startedAt: string | undefined, timeout: string | undefined, now: number): Expiry {
  const limit = parseDuration(timeout);
  const started = Date.parse(startedAt ?? '');
  if (limit === undefined || limit <= 0 || !Number.isFinite(started)) return NEVER;
  return remaining(started + limit, now);
}

/** `spec.ttlSecondsAfterFinished` (default 600) counted from `status.finishedAt`. */
export function finishedTtlExpiry(finishedAt: string | undefined, ttlSeconds: number | undefined, now: number): Expiry {
  const finished = Date.parse(finishedAt ?? '');
  if (!Number.isFinite(finished)) return remaining(now, now);
  return remaining(finished + Math.max(0, ttlSeconds ?? DEFAULT_TTL_AFTER_FINISHED_SECONDS) * 1000, now);
}

function remaining(at: number, now: number): Expiry {
  return at <= now ? { expired: true, remainingMs: 0 } : { expired: false, remainingMs: at - now };
}
