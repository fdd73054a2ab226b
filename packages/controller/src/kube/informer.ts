/**
 * A list-then-watch cache of one resource type. Handlers see every add, update and delete; a
 * broken or expired watch is resumed from the last seen version, or re-listed (emitting the
 * differences) when the server says that version is gone. A periodic resync re-announces every
 * object so level-based reconcilers get a chance to notice time-based changes.
 * @module
 */
import type { KubeObject } from '../api/meta.js';
import { isGone, type KubeClient, type ListOptions } from './client.js';
import type { ResourceType } from './resources.js';

export type InformerEvent = 'add' | 'update' | 'delete';
export type InformerHandler<T> = (event: InformerEvent, object: T) => void;

export interface InformerOptions extends ListOptions {
  namespace?: string;
  /** Re-announce every cached object this often; 0 disables. Default 5 minutes. */
  resyncMs?: number;
  onError?: (err: unknown) => void;
}

const MAX_BACKOFF_MS = 30_000;

export function objectKey(object: KubeObject): string {
  return `${object.metadata.namespace ?? ''}/${object.metadata.name ?? ''}`;
}

export class Informer<T extends KubeObject> {
  readonly #cache = new Map<string, T>();
  readonly #handlers: InformerHandler<T>[] = [];
  #synced: Promise<void> | undefined;

  constructor(
    private readonly client: KubeClient,
    readonly type: ResourceType,
    private readonly options: InformerOptions = {},
  ) {}

  onChange(handler: InformerHandler<T>): void {
    this.#handlers.push(handler);
  }

  get(namespace: string, name: string): T | undefined {
    return this.#cache.get(`${namespace}/${name}`);
  }

  list(): T[] {
    return [...this.#cache.values()];
  }

  /** Starts the loop; resolves after the first list has been delivered to the handlers (or on abort). */
  start(signal: AbortSignal): Promise<void> {
    // Also settles when `signal` aborts before the first list, so callers never hang.
    this.#synced ??= new Promise((resolve) => {
      void this.#run(signal, resolve).finally(resolve);
    });
    return this.#synced;
  }

  async #run(signal: AbortSignal, synced: () => void): Promise<void> {
    let failures = 0;
    let resourceVersion: string | undefined;
    const resync = this.options.resyncMs ?? 300_000;
    const resyncTimer = resync > 0 ? setInterval(() => this.#resync(), resync) : undefined;
    resyncTimer?.unref();
    try {
      while (!signal.aborted) {
        try {
          if (resourceVersion === undefined) {
            resourceVersion = await this.#relist();
            synced();
          }
          resourceVersion = await this.#watch(resourceVersion, signal);
          failures = 0;
        } catch (err) {
          if (signal.aborted) break;
          if (isGone(err)) {
            resourceVersion = undefined;
            continue;
          }
          this.options.onError?.(err);
          resourceVersion = undefined;
          await sleep(Math.min(MAX_BACKOFF_MS, 250 * 2 ** failures++), signal);
        }
      }
    } finally {
      if (resyncTimer) clearInterval(resyncTimer);
    }
  }

  async #relist(): Promise<string> {
    const { items, resourceVersion } = await this.client.list<T>(this.type, this.options.namespace, {
      ...(this.options.labelSelector !== undefined && { labelSelector: this.options.labelSelector }),
    });
    const seen = new Set<string>();
    for (const item of items) {
      const key = objectKey(item);
      seen.add(key);
      this.#store(item);
    }
    for (const [key, old] of this.#cache) {
      if (seen.has(key)) continue;
      this.#cache.delete(key);
      this.#emit('delete', old);
    }
    return resourceVersion;
  }

  /** Returns the version to resume from when the server ends the stream normally. */
  async #watch(from: string, signal: AbortSignal): Promise<string> {
    let last = from;
    await this.client.watch<T>(
      this.type,
      this.options.namespace,
      from,
      (event) => {
        last = event.object.metadata.resourceVersion ?? last;
        if (event.type === 'BOOKMARK') return;
        if (event.type === 'DELETED') {
          const key = objectKey(event.object);
          this.#cache.delete(key);
          this.#emit('delete', event.object);
          return;
        }
        this.#store(event.object);
      },
      signal,
    );
    return last;
  }

  #store(object: T): void {
    if (this.options.labelSelector && !matchesSelector(object, this.options.labelSelector)) return;
    const key = objectKey(object);
    const old = this.#cache.get(key);
    this.#cache.set(key, object);
    if (!old) this.#emit('add', object);
    else if (old.metadata.resourceVersion !== object.metadata.resourceVersion) this.#emit('update', object);
  }

  #resync(): void {
    for (const object of this.#cache.values()) this.#emit('update', object);
  }

  #emit(event: InformerEvent, object: T): void {
    for (const handler of this.#handlers) handler(event, object);
  }
}

/** Equality-based selectors only (`a=b`, `a==b`, `a!=b`, `a`, `!a`), comma-separated. */
export function matchesSelector(object: KubeObject, selector: string): boolean {
  const labels = object.metadata.labels ?? {};
  return selector
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .every((term) => {
      const neq = /^([^!=]+)!=(.*)$/.exec(term);
      if (neq) return labels[neq[1]!.trim()] !== neq[2]!.trim();
      const eq = /^([^=]+)==?(.*)$/.exec(term);
      if (eq) return labels[eq[1]!.trim()] === eq[2]!.trim();
      if (term.startsWith('!')) return !(term.slice(1) in labels);
      return term in labels;
    });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
