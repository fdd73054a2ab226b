/**
 * The controller's client for a node daemon's control API. One instance per call site is fine:
 * it holds no connection state. Refusals come back as NodeCallError with the node's code.
 * @module
 */

import type { CapturedRevision } from '@mitos/engine';
import type { ErrorEnvelope } from '@mitos/protocol';
import type { ClaimDelivery } from '../node/claim-env.js';
import type { SandboxOwner } from '../node/ledger.js';
import type {
  AcquireResult,
  NodeCapacity,
  TemplateRecipe,
  TemplateReport,
  TemplateState,
} from '../node/node-sandboxes.js';
import type { ExportState } from '../node/template-transfer.js';
import type { WorkspaceStoreSpec } from '../node/workspace-io.js';

const CALL_TIMEOUT_MS = 60_000;

export class NodeCallError extends Error {
  override name = 'NodeCallError';
  constructor(
    readonly node: string,
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`node ${node}: ${message}`);
  }
}

export interface NodeSandboxRecord {
  id: string;
  owner: SandboxOwner;
  image: string;
  createdAt: string;
  /** Last activity through the sandbox API (RFC 3339), when there was any since it was claimed. */
  lastActivityAt?: string;
}

/** What the controller needs from a node; an interface so unit tests can stand in for it. */
export interface NodeApi {
  capacity(): Promise<NodeCapacity & { node: string }>;
  sandboxes(): Promise<NodeSandboxRecord[]>;
  /** With a recipe the node builds the template from its spec (controller/template-source.ts). */
  prepareTemplate(image: string, recipe?: TemplateRecipe): Promise<TemplateState>;
  /** What the node knows about `image` (state, how it gets it, progress, recent failures); starts nothing. */
  templateReport(image: string): Promise<TemplateReport>;
  /** Starts (or reports) the export of a ready template for other nodes to fetch; absent: the node cannot. */
  exportTemplate?(image: string): Promise<ExportState>;
  addWarm(namespace: string, pool: string, image: string, count: number): Promise<string[]>;
  removeWarm(namespace: string, pool: string, count?: number): Promise<string[]>;
  acquire(req: {
    namespace: string;
    pool: string;
    claim: string;
    image: string;
    token: string;
    delivery?: ClaimDelivery;
  }): Promise<AcquireResult>;
  fork(req: {
    namespace: string;
    fork: string;
    source: string;
    children: Array<{ id: string; token: string }>;
    pauseSource?: boolean;
  }): Promise<Array<{ sandboxId: string; forkTimeMs: number }>>;
  /** With `namespace`, only a sandbox that namespace owns is terminated. */
  terminate(sandboxId: string, namespace?: string): Promise<boolean>;
  /** Writes manifest `manifest` (null: nothing) from `store` into a claimed sandbox's /workspace. */
  hydrateWorkspace(
    sandboxId: string,
    req: { namespace: string; store: WorkspaceStoreSpec; manifest: string | null },
  ): Promise<{ files: number }>;
  /** Stores a claimed sandbox's /workspace (or `paths` in it) and its manifest in `store`. */
  captureWorkspace(
    sandboxId: string,
    req: { namespace: string; store: WorkspaceStoreSpec; paths?: string[]; parent?: string | null },
  ): Promise<CapturedRevision>;
}

export class HttpNodeApi implements NodeApi {
  constructor(
    private readonly node: string,
    /** Bare host:port of the control API. */
    private readonly endpoint: string,
    private readonly nodeKey: string,
  ) {}

  capacity() {
    return this.#call<NodeCapacity & { node: string }>('GET', '/node/v1/capacity');
  }

  async sandboxes() {
    return (await this.#call<{ sandboxes: NodeSandboxRecord[] }>('GET', '/node/v1/sandboxes')).sandboxes;
  }

  async prepareTemplate(image: string, recipe?: TemplateRecipe) {
    return (await this.#call<{ state: TemplateState }>('POST', '/node/v1/templates', { image, ...recipe })).state;
  }

  templateReport(image: string) {
    return this.#call<TemplateReport>('GET', `/node/v1/templates/${encodeURIComponent(image)}`);
  }

  async exportTemplate(image: string) {
    const { state, digest } = await this.#call<{ state: ExportState['state']; digest?: string }>(
      'POST',
      `/node/v1/templates/${encodeURIComponent(image)}/export`,
    );
    return state === 'ready' && digest ? { state, digest } : { state: 'exporting' as const };
  }

  async addWarm(namespace: string, pool: string, image: string, count: number) {
    return (await this.#call<{ created: string[] }>('POST', '/node/v1/warm', { namespace, pool, image, count }))
      .created;
  }

  async removeWarm(namespace: string, pool: string, count?: number) {
    const body = count === undefined ? { namespace, pool } : { namespace, pool, count };
    return (await this.#call<{ removed: string[] }>('POST', '/node/v1/warm/remove', body)).removed;
  }

  acquire(req: Parameters<NodeApi['acquire']>[0]) {
    return this.#call<AcquireResult>('POST', '/node/v1/claims', req);
  }

  async fork(req: Parameters<NodeApi['fork']>[0]) {
    return (
      await this.#call<{ children: Array<{ sandboxId: string; forkTimeMs: number }> }>('POST', '/node/v1/forks', req)
    ).children;
  }

  async terminate(sandboxId: string, namespace?: string) {
    const query = namespace === undefined ? '' : `?namespace=${encodeURIComponent(namespace)}`;
    const path = `/node/v1/sandboxes/${encodeURIComponent(sandboxId)}${query}`;
    return (await this.#call<{ terminated: boolean }>('DELETE', path)).terminated;
  }

  hydrateWorkspace(sandboxId: string, req: Parameters<NodeApi['hydrateWorkspace']>[1]) {
    return this.#call<{ files: number }>(
      'POST',
      `/node/v1/sandboxes/${encodeURIComponent(sandboxId)}/workspace/hydrate`,
      req,
    );
  }

  captureWorkspace(sandboxId: string, req: Parameters<NodeApi['captureWorkspace']>[1]) {
    return this.#call<CapturedRevision>(
      'POST',
      `/node/v1/sandboxes/${encodeURIComponent(sandboxId)}/workspace/capture`,
      req,
    );
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`http://${this.endpoint}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.nodeKey}`,
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      });
    } catch (err) {
      throw new NodeCallError(this.node, 0, 'unavailable', `${method} ${path} failed: ${(err as Error).message}`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      // The protocol's envelope: the refusal's reason is its cause, the code's gist its message.
      const error = (parsed as Partial<ErrorEnvelope> | undefined)?.error;
      const reason = error?.cause || error?.message || text.slice(0, 200);
      throw new NodeCallError(this.node, res.status, error?.code ?? 'internal', reason);
    }
    return parsed as T;
  }
}
