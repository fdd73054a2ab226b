/**
 * The narrow view of the Kubernetes API the controller and node daemon are written against.
 * Two implementations: rest-client.ts talks to a real apiserver; testing/fake-kube.ts keeps
 * objects in memory for the unit tier. Everything is namespaced.
 * @module
 */
import type { KubeObject } from '../api/meta.js';
import type { ResourceType } from './resources.js';

export interface ListResult<T> {
  items: T[];
  /** Start a watch from here to see every later change. */
  resourceVersion: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
}

export interface ListOptions {
  /** Equality-based selector, e.g. `a=b,c`. */
  labelSelector?: string;
}

export interface KubeClient {
  get<T extends KubeObject>(type: ResourceType, namespace: string, name: string): Promise<T | undefined>;
  /** `namespace` undefined lists across namespaces. */
  list<T extends KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    options?: ListOptions,
  ): Promise<ListResult<T>>;
  /** Throws KubeApiError 409 AlreadyExists when the name is taken. */
  create<T extends KubeObject>(type: ResourceType, object: T): Promise<T>;
  /** Replaces spec and metadata; a stale metadata.resourceVersion is 409 Conflict. */
  update<T extends KubeObject>(type: ResourceType, object: T): Promise<T>;
  /** Replaces status only, through the status subresource; same concurrency rule. */
  updateStatus<T extends KubeObject>(type: ResourceType, object: T): Promise<T>;
  /** JSON merge patch (RFC 7386); `status: true` patches the status subresource. */
  patch<T extends KubeObject>(
    type: ResourceType,
    namespace: string,
    name: string,
    patch: object,
    options?: { status?: boolean },
  ): Promise<T>;
  /** False when there was nothing to delete. */
  delete(type: ResourceType, namespace: string, name: string): Promise<boolean>;
  /**
   * Streams changes after `resourceVersion` until the server ends the stream (resolves) or it
   * fails (rejects; 410 Gone means the version is too old and the caller must list again).
   */
  watch<T extends KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    resourceVersion: string,
    onEvent: (event: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void>;
}

/** An error answer from the apiserver, with its HTTP status and Status reason. */
export class KubeApiError extends Error {
  override name = 'KubeApiError';
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 404;
}

/** 409: AlreadyExists on create, Conflict on a stale resourceVersion. */
export function isConflict(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 409;
}

export function isGone(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 410;
}
