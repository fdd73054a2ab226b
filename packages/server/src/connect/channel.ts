/**
 * A queue that callbacks push into and a streaming handler yields from: engine output arrives
 * on callbacks, a Connect handler is an async generator. `end` lets the reader finish after
 * what is queued; `fail` makes it throw after what is queued.
 */
export class Channel<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #wake: (() => void) | undefined;
  #done = false;
  #error: { reason: unknown } | undefined;

  get ended(): boolean {
    return this.#done;
  }

  push(item: T): void {
    if (this.#done) return;
    this.#items.push(item);
    this.#notify();
  }

  end(): void {
    this.#done = true;
    this.#notify();
  }

  fail(reason: unknown): void {
    if (this.#done) return;
    this.#error = { reason };
    this.end();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      const item = this.#items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.#done) {
        if (this.#error) throw this.#error.reason;
        return;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
