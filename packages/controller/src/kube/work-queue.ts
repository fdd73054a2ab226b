/**
 * A rate-limited work queue with the guarantees reconcilers rely on: a key is never processed
 * by two workers at once, a key added while it is being processed is processed again after,
 * and adding a key that is already waiting does nothing. Failures back off per key
 * exponentially; `forget` resets a key after a success.
 * @module
 */

export interface WorkQueueOptions {
  /** First retry delay after a failure. Default 50 ms. */
  baseDelayMs?: number;
  /** Retry delay ceiling. Default 60 s. */
  maxDelayMs?: number;
}

export class WorkQueue {
  readonly #ready: string[] = [];
  /** Keys waiting to be processed (queued, or re-added while processing). */
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  readonly #failures = new Map<string, number>();
  readonly #waiters: Array<(key: string | undefined) => void> = [];
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  #shutDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.#baseDelayMs = options.baseDelayMs ?? 50;
    this.#maxDelayMs = options.maxDelayMs ?? 60_000;
  }

  add(key: string): void {
    if (this.#shutDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      waiter(key);
    } else {
      this.#ready.push(key);
    }
  }

  /** Adds `key` after `delayMs`; an earlier pending time for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shutDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + delayMs;
    const pending = this.#timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.#timers.set(key, { at, timer });
  }

  /** Adds `key` after its backoff delay, which doubles with each consecutive failure. */
  addRateLimited(key: string): void {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    this.addAfter(key, this.backoffFor(failures));
  }

  backoffFor(failures: number): number {
    return Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** Math.min(failures, 30));
  }

  /** Clears the failure count of `key` (call after a successful reconcile). */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** Next key to process, or undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    const key = this.#ready.shift();
    if (key !== undefined) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      return Promise.resolve(key);
    }
    if (this.#shutDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Marks `key` processed; if it was re-added meanwhile, it is queued again now. */
  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key)) {
      this.#dirty.delete(key);
      this.add(key);
    }
  }

  get length(): number {
    return this.#ready.length;
  }

  shutDown(): void {
    this.#shutDown = true;
    for (const { timer } of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    for (const waiter of this.#waiters.splice(0)) waiter(undefined);
  }
}
