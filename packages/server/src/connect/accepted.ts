/**
 * A Connect call that starts work in a sandbox, under a stream slot taken when the engine
 * accepts the call. The engine's one read of the sandbox decides not_found and
 * sandbox_not_running; the slot (too_many_streams) comes after, as on the /v1 streams. A
 * refusal rejects before any reply, so the client gets it as the call's Connect error.
 */
import { MitosError } from '@mitos/protocol';
import type { StreamLease, StreamRegistry } from '../streaming/registry.js';

export interface AcceptedCall<T> {
  /** The stream slot, held until the caller releases it; its signal aborts when the sandbox goes. */
  lease: StreamLease;
  /** The engine call itself, running. */
  done: Promise<T>;
}

/** `start` makes the engine call with `signal` (the client's, or the sandbox going) and `onAccepted`. */
export async function startAccepted<T>(
  streams: StreamRegistry,
  sandboxId: string,
  clientSignal: AbortSignal,
  start: (signal: AbortSignal, onAccepted: () => void) => Promise<T>,
): Promise<AcceptedCall<T>> {
  const gone = new AbortController();
  let lease: StreamLease | undefined;
  let accepted = () => {};
  const acceptance = new Promise<void>((resolve) => {
    accepted = resolve;
  });
  const done = start(AbortSignal.any([clientSignal, gone.signal]), () => {
    const held = streams.acquire(sandboxId);
    lease = held;
    if (held.signal.aborted) gone.abort(held.signal.reason);
    else held.signal.addEventListener('abort', () => gone.abort(held.signal.reason), { once: true });
    accepted();
  });
  try {
    await Promise.race([acceptance, done]);
  } catch (err) {
    if (lease === undefined) throw err;
  }
  if (lease === undefined) {
    throw new MitosError('internal', 'the engine answered without accepting the call (onAccepted)');
  }
  return { lease, done };
}
