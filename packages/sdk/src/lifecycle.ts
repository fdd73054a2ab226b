/**
 * A sandbox's lifetime and run state: deadline (set_timeout), pause/resume and its record
 * (wire-v1.md 4.15-4.17; api-extensions.md Lifetimes, Pause / resume).
 * @module
 */
import { DEFAULT_SANDBOX_CALL_TIMEOUT_MS } from './files.js';
import { type HttpClient, invalidResponse } from './http.js';
import { toSandboxDetails } from './records.js';
import type { CallOptions, SandboxDetails } from './types.js';
import { assertLifetimeSeconds } from './validate.js';

/** Terminate the sandbox `seconds` from now (replacing any earlier deadline); returns the deadline in unix seconds. */
export async function setLifetime(
  http: HttpClient,
  sandbox: string,
  seconds: number,
  opts: CallOptions = {},
): Promise<number> {
  assertLifetimeSeconds(seconds);
  const raw = await http.request<{ deadline_unix?: unknown } | undefined>('POST', '/v1/set_timeout', {
    body: { sandbox, timeout_seconds: seconds },
    timeoutMs: http.timeoutOr(DEFAULT_SANDBOX_CALL_TIMEOUT_MS),
    signal: opts.signal,
  });
  const deadline = Number(raw?.deadline_unix ?? 0);
  if (!Number.isFinite(deadline)) throw invalidResponse('set_timeout answered a non-numeric "deadline_unix"');
  return Math.trunc(deadline);
}

export async function setRunState(
  http: HttpClient,
  sandbox: string,
  verb: 'pause' | 'resume',
  opts: CallOptions = {},
): Promise<void> {
  await http.request('POST', `/v1/${verb}`, {
    body: { sandbox },
    timeoutMs: http.timeoutOr(DEFAULT_SANDBOX_CALL_TIMEOUT_MS),
    signal: opts.signal,
  });
}

export async function describeSandbox(
  http: HttpClient,
  sandbox: string,
  opts: CallOptions = {},
): Promise<SandboxDetails> {
  const raw = await http.request<unknown>('GET', `/v1/sandboxes/${encodeURIComponent(sandbox)}`, {
    timeoutMs: http.timeoutOr(DEFAULT_SANDBOX_CALL_TIMEOUT_MS),
    signal: opts.signal,
  });
  return toSandboxDetails(raw);
}
