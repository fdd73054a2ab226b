/**
 * Callback-driven events (process output, watcher changes) turned into an async iterable a
 * Connect server stream can yield from, with keepalives while nothing happens.
 */
export class EventQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  #failure: unknown;

  /** Items pushed and not yet taken. */
  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    if (this.#ended) return;
    this.#items.push(item);
    this.#notify();
  }

  end(failure?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#failure = failure;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /**
   * Yields items until end(); every `keepaliveMs` of silence yields `keepalive()` instead.
   * Stops when `signal` aborts (the client went away).
   */
  async *drain(signal: AbortSignal, keepaliveMs: number, keepalive: () => T): AsyncGenerator<T> {
    const onAbort = () => this.end();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        while (this.#items.length > 0) yield this.#items.shift() as T;
        if (this.#ended) {
          if (this.#failure !== undefined) throw this.#failure;
          return;
        }
        let timer: NodeJS.Timeout | undefined;
        const woke = new Promise<boolean>((resolve) => {
          this.#wake = () => resolve(true);
          if (keepaliveMs > 0) timer = setTimeout(() => resolve(false), keepaliveMs);
        });
        const wokenByEvent = await woke;
        clearTimeout(timer);
        if (!wokenByEvent) {
          this.#wake = undefined;
          yield keepalive();
        }
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.drain(new AbortController().signal, 0, () => {
      throw new Error('no keepalive');
    });
  }
}
