/**
 * One lifecycle change at a time per sandbox on the E2B surface: pause, resume, connect, and a
 * snapshot of a paused sandbox (which wakes it for the copy and pauses it again) never interleave,
 * so a snapshot cannot re-pause a sandbox a client resumed meanwhile.
 */
export class SandboxLifecycleLock {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `change` after every change already queued for `sandboxId` has settled. */
  run<T>(sandboxId: string, change: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(sandboxId) ?? Promise.resolve();
    const result = before.then(change);
    const tail = result.then(
      () => {},
      () => {},
    );
    this.#tails.set(sandboxId, tail);
    void tail.then(() => {
      if (this.#tails.get(sandboxId) === tail) this.#tails.delete(sandboxId);
    });
    return result;
  }
}
