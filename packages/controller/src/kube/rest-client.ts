/**
 * KubeClient over HTTP(S). Authentication, TLS and proxies come from client-node's KubeConfig
 * (kubeconfig file or in-cluster service account); the requests themselves are plain JSON, so
 * one code path serves custom resources, Secrets and Leases, and status subresources alike.
 * @module
 */
import type { Agent as HttpAgent, IncomingMessage } from 'node:http';
import { request as httpRequest } from 'node:http';
import type { RequestOptions } from 'node:https';
import { request as httpsRequest } from 'node:https';
import { createInterface } from 'node:readline';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeObject } from '../api/meta.js';
import { KubeApiError, type KubeClient, type ListOptions, type ListResult, type WatchEvent } from './client.js';
import { apiVersionOf, collectionPath, objectPath, type ResourceType } from './resources.js';

const REQUEST_TIMEOUT_MS = 30_000;
/** The server ends a watch after this; the informer then resumes from its last version. */
const WATCH_TIMEOUT_SECONDS = 300;
/** Credentials can rotate (in-cluster tokens are re-read), so the transport is refreshed. */
const TRANSPORT_TTL_MS = 60_000;

interface Transport {
  agent: HttpAgent | undefined;
  headers: Record<string, string>;
  fetchedAt: number;
}

export class RestKubeClient implements KubeClient {
  readonly #server: URL;
  #transport: Promise<Transport> | undefined;

  constructor(private readonly config: KubeConfig) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.#server = new URL(cluster.server);
  }

  async get<T extends KubeObject>(type: ResourceType, namespace: string, name: string): Promise<T | undefined> {
    try {
      return await this.#json<T>('GET', objectPath(type, namespace, name));
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  async list<T extends KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    options: ListOptions = {},
  ): Promise<ListResult<T>> {
    const query = options.labelSelector ? `?labelSelector=${encodeURIComponent(options.labelSelector)}` : '';
    const out = await this.#json<{ items?: T[]; metadata?: { resourceVersion?: string } }>(
      'GET',
      collectionPath(type, namespace) + query,
    );
    // List items omit apiVersion/kind; fill them so objects look the same from every path.
    const items = (out.items ?? []).map((item) => ({ apiVersion: apiVersionOf(type), kind: type.kind, ...item }));
    return { items, resourceVersion: out.metadata?.resourceVersion ?? '' };
  }

  create<T extends KubeObject>(type: ResourceType, object: T): Promise<T> {
    return this.#json<T>('POST', collectionPath(type, requireNamespace(object)), withTypeMeta(type, object));
  }

  update<T extends KubeObject>(type: ResourceType, object: T): Promise<T> {
    const path = objectPath(type, requireNamespace(object), requireName(object));
    return this.#json<T>('PUT', path, withTypeMeta(type, object));
  }

  updateStatus<T extends KubeObject>(type: ResourceType, object: T): Promise<T> {
    const path = `${objectPath(type, requireNamespace(object), requireName(object))}/status`;
    return this.#json<T>('PUT', path, withTypeMeta(type, object));
  }

  patch<T extends KubeObject>(
    type: ResourceType,
    namespace: string,
    name: string,
    patch: object,
    options: { status?: boolean } = {},
  ): Promise<T> {
    const path = objectPath(type, namespace, name) + (options.status ? '/status' : '');
    return this.#json<T>('PATCH', path, patch, 'application/merge-patch+json');
  }

  async delete(type: ResourceType, namespace: string, name: string): Promise<boolean> {
    try {
      await this.#json('DELETE', objectPath(type, namespace, name), { kind: 'DeleteOptions', apiVersion: 'v1' });
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return false;
      throw err;
    }
  }

  async watch<T extends KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    resourceVersion: string,
    onEvent: (event: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const query = new URLSearchParams({
      watch: 'true',
      resourceVersion,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(WATCH_TIMEOUT_SECONDS),
    });
    const res = await this.#send('GET', `${collectionPath(type, namespace)}?${query}`, undefined, undefined, signal, 0);
    if ((res.statusCode ?? 0) >= 300) throw await errorFrom(res);
    const lines = createInterface({ input: res, crlfDelay: Number.POSITIVE_INFINITY });
    const onAbort = () => res.destroy();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const line of lines) {
        if (line.trim() === '') continue;
        const event = JSON.parse(line) as {
          type: string;
          object: T & { code?: number; reason?: string; message?: string };
        };
        if (event.type === 'ERROR') {
          const status = event.object;
          throw new KubeApiError(status.code ?? 500, status.reason ?? 'Unknown', status.message ?? 'watch error');
        }
        onEvent({ type: event.type as WatchEvent<T>['type'], object: event.object });
      }
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async #json<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const res = await this.#send(method, path, body, contentType, undefined, REQUEST_TIMEOUT_MS);
    if ((res.statusCode ?? 0) >= 300) throw await errorFrom(res);
    const text = await readText(res);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  async #send(
    method: string,
    path: string,
    body: unknown,
    contentType: string | undefined,
    signal: AbortSignal | undefined,
    timeoutMs: number,
  ): Promise<IncomingMessage> {
    const transport = await this.#currentTransport();
    const url = new URL(this.#server.pathname.replace(/\/$/, '') + path, this.#server);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { ...transport.headers, accept: 'application/json' };
    if (payload) {
      headers['content-type'] = contentType ?? 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const options: RequestOptions = { method, headers, agent: transport.agent };
    if (signal) options.signal = signal;
    if (timeoutMs > 0) options.timeout = timeoutMs;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, options, resolve);
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname} timed out after ${timeoutMs} ms`)));
      req.end(payload);
    });
  }

  #currentTransport(): Promise<Transport> {
    const cached = this.#transport;
    if (cached) {
      return cached.then((t) => {
        if (Date.now() - t.fetchedAt < TRANSPORT_TTL_MS) return t;
        this.#transport = undefined;
        return this.#currentTransport();
      });
    }
    const fresh = this.#loadTransport();
    this.#transport = fresh;
    fresh.catch(() => {
      if (this.#transport === fresh) this.#transport = undefined;
    });
    return fresh;
  }

  async #loadTransport(): Promise<Transport> {
    const opts: RequestOptions = {};
    await this.config.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) if (typeof v === 'string') headers[k] = v;
    if (opts.auth) headers.authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    return { agent: opts.agent as HttpAgent | undefined, headers, fetchedAt: Date.now() };
  }
}

function withTypeMeta<T extends KubeObject>(type: ResourceType, object: T): T {
  return { ...object, apiVersion: apiVersionOf(type), kind: type.kind };
}

function requireNamespace(object: KubeObject): string {
  const ns = object.metadata.namespace;
  if (!ns) throw new Error(`object ${object.metadata.name ?? '(unnamed)'} has no namespace`);
  return ns;
}

function requireName(object: KubeObject): string {
  const name = object.metadata.name;
  if (!name) throw new Error('object has no name');
  return name;
}

async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function errorFrom(res: IncomingMessage): Promise<KubeApiError> {
  const text = await readText(res);
  let status: { reason?: string; message?: string } = {};
  try {
    status = JSON.parse(text);
  } catch {
    // A proxy or a crashed apiserver may answer with plain text.
  }
  return new KubeApiError(res.statusCode ?? 500, status.reason ?? 'Unknown', status.message ?? text.slice(0, 300));
}
