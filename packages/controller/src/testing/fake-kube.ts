/**
 * An in-memory KubeClient for the unit tier. It keeps the apiserver behaviours the controller
 * depends on and nothing more: resourceVersion conflicts, AlreadyExists, status subresources
 * (spec writes ignore status and the reverse), JSON merge patch with a resourceVersion
 * precondition, finalizers holding a deletion, label selectors, watches from a version, and
 * ownerReference cascades (what kube-controller-manager's garbage collector does).
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { KubeObject } from '../api/meta.js';
import { KubeApiError, type KubeClient, type ListOptions, type ListResult, type WatchEvent } from '../kube/client.js';
import { matchesSelector } from '../kube/informer.js';
import { apiVersionOf, type ResourceType } from '../kube/resources.js';

interface Watcher {
  plural: string;
  namespace: string | undefined;
  emit: (event: WatchEvent<KubeObject>) => void;
}

/** One recorded write, for tests that assert on ordering. */
export interface WriteRecord {
  verb: 'create' | 'update' | 'status' | 'delete';
  plural: string;
  namespace: string;
  name: string;
  object: KubeObject;
}

const WITHOUT_STATUS_SUBRESOURCE = new Set(['secrets', 'leases', 'configmaps']);

export class FakeKube implements KubeClient {
  readonly writes: WriteRecord[] = [];
  readonly #objects = new Map<string, KubeObject>();
  readonly #watchers = new Set<Watcher>();
  #version = 0;

  async get<T extends KubeObject>(type: ResourceType, namespace: string, name: string): Promise<T | undefined> {
    const found = this.#objects.get(key(type, namespace, name));
    return found ? (clone(found) as T) : undefined;
  }

  async list<T extends KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    options: ListOptions = {},
  ): Promise<ListResult<T>> {
    const items = [...this.#objects.entries()]
      .filter(([k]) => k.startsWith(`${type.plural}/${namespace === undefined ? '' : `${namespace}/`}`))
      .map(([, o]) => o)
      .filter((o) => !options.labelSelector || matchesSelector(o, options.labelSelector))
      .map((o) => clone(o) as T);
    return { items, resourceVersion: String(this.#version) };
  }

  async create<T extends KubeObject>(type: ResourceType, object: T): Promise<T> {
    const namespace = object.metadata.namespace ?? '';
    const name = object.metadata.name ?? `${object.metadata.generateName ?? 'obj-'}${randomUUID().slice(0, 5)}`;
    const k = key(type, namespace, name);
    if (this.#objects.has(k)) throw new KubeApiError(409, 'AlreadyExists', `${type.plural} "${name}" already exists`);
    const stored: KubeObject = {
      ...clone(object),
      apiVersion: apiVersionOf(type),
      kind: type.kind,
      metadata: {
        ...clone(object.metadata),
        name,
        namespace,
        uid: randomUUID(),
        generation: 1,
        creationTimestamp: new Date().toISOString(),
        resourceVersion: this.#nextVersion(),
      },
    };
    this.#objects.set(k, stored);
    this.#record('create', type, stored);
    this.#emit(type, 'ADDED', stored);
    return clone(stored) as T;
  }

  async update<T extends KubeObject>(type: ResourceType, object: T): Promise<T> {
    const current = this.#require(type, object.metadata.namespace ?? '', object.metadata.name ?? '');
    this.#checkVersion(current, object.metadata.resourceVersion);
    const next: KubeObject = { ...clone(object), metadata: { ...clone(object.metadata) } };
    for (const immutable of ['uid', 'creationTimestamp', 'deletionTimestamp', 'generation'] as const) {
      (next.metadata as Record<string, unknown>)[immutable] = current.metadata[immutable];
    }
    if (!WITHOUT_STATUS_SUBRESOURCE.has(type.plural)) {
      (next as { status?: unknown }).status = (current as { status?: unknown }).status;
    }
    return this.#store(type, current, next, 'update') as Promise<T>;
  }

  async updateStatus<T extends KubeObject>(type: ResourceType, object: T): Promise<T> {
    const current = this.#require(type, object.metadata.namespace ?? '', object.metadata.name ?? '');
    this.#checkVersion(current, object.metadata.resourceVersion);
    const next = { ...clone(current), status: clone((object as { status?: unknown }).status) };
    return this.#store(type, current, next, 'status') as Promise<T>;
  }

  async patch<T extends KubeObject>(
    type: ResourceType,
    namespace: string,
    name: string,
    patch: object,
    options: { status?: boolean } = {},
  ): Promise<T> {
    const current = this.#require(type, namespace, name);
    const body = clone(patch) as { metadata?: { resourceVersion?: string }; status?: unknown };
    this.#checkVersion(current, body.metadata?.resourceVersion);
    if (body.metadata) delete body.metadata.resourceVersion;
    let next: KubeObject;
    if (options.status) {
      next = {
        ...clone(current),
        status: mergePatch((current as { status?: unknown }).status, body.status),
      } as KubeObject;
    } else {
      delete body.status;
      next = mergePatch(clone(current), body) as KubeObject;
      (next as { status?: unknown }).status = (current as { status?: unknown }).status;
    }
    return this.#store(type, current, next, options.status ? 'status' : 'update') as Promise<T>;
  }

  async delete(type: ResourceType, namespace: string, name: string): Promise<boolean> {
    const current = this.#objects.get(key(type, namespace, name));
    if (!current) return false;
    if ((current.metadata.finalizers?.length ?? 0) > 0) {
      if (!current.metadata.deletionTimestamp) {
        const next = clone(current);
        next.metadata.deletionTimestamp = new Date().toISOString();
        await this.#store(type, current, next, 'update');
      }
      return true;
    }
    this.#remove(type, current);
    return true;
  }

  async watch<T extends KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    _resourceVersion: string,
    onEvent: (event: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    // Lists and watches are synchronous here, so "everything after the list" is "from now on".
    const watcher: Watcher = { plural: type.plural, namespace, emit: onEvent as Watcher['emit'] };
    this.#watchers.add(watcher);
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    this.#watchers.delete(watcher);
  }

  /** Every stored object of a type (test inspection). */
  all<T extends KubeObject>(type: ResourceType): T[] {
    return [...this.#objects.entries()].filter(([k]) => k.startsWith(`${type.plural}/`)).map(([, o]) => clone(o) as T);
  }

  async #store(
    type: ResourceType,
    current: KubeObject,
    next: KubeObject,
    verb: 'update' | 'status',
  ): Promise<KubeObject> {
    if (JSON.stringify(spec(current)) !== JSON.stringify(spec(next))) {
      next.metadata.generation = (current.metadata.generation ?? 1) + 1;
    }
    next.metadata.resourceVersion = this.#nextVersion();
    const k = key(type, next.metadata.namespace ?? '', next.metadata.name ?? '');
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers?.length ?? 0) === 0) {
      this.#objects.set(k, next);
      this.#remove(type, next);
      return clone(next);
    }
    this.#objects.set(k, next);
    this.#record(verb, type, next);
    this.#emit(type, 'MODIFIED', next);
    return clone(next);
  }

  #remove(type: ResourceType, object: KubeObject): void {
    this.#objects.delete(key(type, object.metadata.namespace ?? '', object.metadata.name ?? ''));
    const gone = { ...clone(object), metadata: { ...clone(object.metadata), resourceVersion: this.#nextVersion() } };
    this.#record('delete', type, gone);
    this.#emit(type, 'DELETED', gone);
    // Background cascade to dependents, as the garbage collector does.
    for (const [k, dependent] of [...this.#objects.entries()]) {
      if (!dependent.metadata.ownerReferences?.some((o) => o.uid === object.metadata.uid)) continue;
      const plural = k.split('/')[0] ?? '';
      void this.delete(
        { group: '', version: '', plural, kind: dependent.kind ?? '' },
        dependent.metadata.namespace ?? '',
        dependent.metadata.name ?? '',
      );
    }
  }

  #require(type: ResourceType, namespace: string, name: string): KubeObject {
    const found = this.#objects.get(key(type, namespace, name));
    if (!found) throw new KubeApiError(404, 'NotFound', `${type.plural} "${name}" not found`);
    return found;
  }

  #checkVersion(current: KubeObject, presented: string | undefined): void {
    if (presented !== undefined && presented !== '' && presented !== current.metadata.resourceVersion) {
      throw new KubeApiError(
        409,
        'Conflict',
        'the object has been modified; please apply your changes to the latest version',
      );
    }
  }

  #record(verb: WriteRecord['verb'], type: ResourceType, object: KubeObject): void {
    const { namespace = '', name = '' } = object.metadata;
    this.writes.push({ verb, plural: type.plural, namespace, name, object: clone(object) });
  }

  #emit(type: ResourceType, eventType: WatchEvent<KubeObject>['type'], object: KubeObject): void {
    for (const w of this.#watchers) {
      if (w.plural !== type.plural) continue;
      if (w.namespace !== undefined && w.namespace !== object.metadata.namespace) continue;
      w.emit({ type: eventType, object: clone(object) });
    }
  }

  #nextVersion(): string {
    this.#version += 1;
    return String(this.#version);
  }
}

function key(type: ResourceType, namespace: string, name: string): string {
  return `${type.plural}/${namespace}/${name}`;
}

function spec(object: KubeObject): unknown {
  return (object as { spec?: unknown }).spec;
}

function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** RFC 7386: objects merge, null deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
