/**
 * The per-sandbox cap on open streams (exec streams, run_code streams, process streams and
 * terminals; `--max-streams-per-sandbox`), and the way to end them all when their sandbox goes.
 * A stream holds a lease from before its 200 until it ends, however it ends.
 */
import { MitosError } from '@mitos/protocol';

export const DEFAULT_MAX_STREAMS_PER_SANDBOX = 16;

export interface StreamLease {
  /** Aborted, with a MitosError as reason, when the sandbox goes away or the server stops. */
  readonly signal: AbortSignal;
  /** Frees the slot; idempotent. */
  release(): void;
}

export class StreamRegistry {
  readonly #max: number;
  readonly #open = new Map<string, Set<AbortController>>();

  /** `maxPerSandbox` 0 = unlimited. */
  constructor(maxPerSandbox: number) {
    this.#max = maxPerSandbox;
  }

  /** Takes a slot, or throws 429 too_many_streams. */
  acquire(sandboxId: string): StreamLease {
    const open = this.#open.get(sandboxId) ?? new Set<AbortController>();
    if (this.#max > 0 && open.size >= this.#max) {
      throw new MitosError('too_many_streams', `sandbox "${sandboxId}" already has ${open.size} open streams`, {
        sandbox: sandboxId,
      });
    }
    const controller = new AbortController();
    open.add(controller);
    this.#open.set(sandboxId, open);
    return {
      signal: controller.signal,
      release: () => {
        if (!open.delete(controller)) return;
        if (open.size === 0 && this.#open.get(sandboxId) === open) this.#open.delete(sandboxId);
      },
    };
  }

  count(sandboxId: string): number {
    return this.#open.get(sandboxId)?.size ?? 0;
  }

  /** Signals every open stream of a sandbox that is gone; each releases its own lease as it ends. */
  abortSandbox(sandboxId: string): void {
    const reason = new MitosError('not_found', `sandbox "${sandboxId}" was terminated`, { sandbox: sandboxId });
    for (const controller of this.#open.get(sandboxId) ?? []) controller.abort(reason);
  }

  /** Server shutdown: every stream ends with a failure frame instead of being cut mid-line. */
  abortAll(): void {
    const reason = new MitosError('canceled', 'the server is shutting down');
    for (const open of this.#open.values()) for (const controller of open) controller.abort(reason);
  }
}
