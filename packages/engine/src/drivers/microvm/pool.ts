/**
 * VMs made ahead per template snapshot (warm-vm.ts: restored, resumed, one command run,
 * stopped), so a create only continues one with its own identity. Refilled in the background,
 * one at a time, so a burst of creates does not also start a burst of QEMUs.
 */
export interface Poolable {
  /** False once the process has died while waiting. */
  alive(): boolean;
}

export class RestorePool<T extends Poolable> {
  private readonly ready = new Map<string, T[]>();
  private readonly filling = new Map<string, Promise<void>>();
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly spawn: (key: string) => Promise<T>,
    private readonly dispose: (item: T) => Promise<void>,
    private readonly onError: (err: Error) => void = () => {},
    private readonly refillDelayMs = 500,
  ) {}

  /**
   * A ready item for `key`, if one is waiting. The refill starts a little later: making one
   * right away would compete for the CPU with the create it is meant to speed up.
   */
  take(key: string): T | undefined {
    const list = this.ready.get(key) ?? [];
    let item = list.shift();
    while (item && !item.alive()) {
      void this.dispose(item).catch(() => {});
      item = list.shift();
    }
    setTimeout(() => this.refill(key), this.refillDelayMs).unref();
    return item;
  }

  /** Every item waiting, over all keys. */
  waiting(): T[] {
    return [...this.ready.values()].flat();
  }

  refill(key: string): void {
    if (this.closed || this.size <= 0 || this.filling.has(key)) return;
    const run = (async () => {
      for (;;) {
        const list = this.ready.get(key) ?? [];
        this.ready.set(key, list);
        if (this.closed || list.length >= this.size) return;
        const item = await this.spawn(key);
        if (this.closed) {
          await this.dispose(item);
          return;
        }
        list.push(item);
      }
    })()
      .catch((err: Error) => this.onError(err))
      .finally(() => this.filling.delete(key));
    this.filling.set(key, run);
  }

  /** Dispose every waiting item of `key` (its snapshot is going away). */
  async drain(key: string): Promise<void> {
    await this.filling.get(key);
    const list = this.ready.get(key) ?? [];
    this.ready.delete(key);
    await Promise.all(list.map((i) => this.dispose(i).catch(() => {})));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.filling.values()]);
    for (const key of [...this.ready.keys()]) await this.drain(key);
  }
}
