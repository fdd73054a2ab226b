/**
 * Imports and seeds are made once per key, however many creates ask for them at once.
 */

/** Runs `make` for `key` unless a run for it is pending: concurrent callers share that run. */
export function once<T>(pending: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let p = pending.get(key);
  if (!p) {
    p = make().finally(() => pending.delete(key));
    pending.set(key, p);
  }
  return p;
}
