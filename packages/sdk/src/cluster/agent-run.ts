/**
 * Cluster mode's entry point (crd-v1.md 9): sandboxes are SandboxClaims served by the mitos
 * controller and node daemons. `sandbox('python')` makes sure the deterministic default pool
 * exists (unless the admin disabled that), creates a claim, and optionally waits for it.
 *
 * @example
 * const run = new AgentRun();
 * const sb = await run.sandbox('python', { ready: true });
 * console.log((await sb.exec("python3 -c 'print(2+2)'")).stdout); // 4
 * const [a, b] = await sb.fork(2);
 * await sb.terminate();
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { CallOptions } from '../types.js';
import { type ClusterApi, ClusterApiError, type KubeObjectLike } from './api.js';
import { ClusterSandbox, type ClusterSandboxInfo, claimInfo, DEFAULT_READY_TIMEOUT_MS } from './cluster-sandbox.js';
import { clusterError } from './errors.js';
import { loadKubeApi } from './kube-api.js';
import { defaultPoolName } from './pool-name.js';

const API_VERSION = 'mitos.run/v1alpha1';

export interface AgentRunOptions {
  /** Path of a kubeconfig file; default: in-cluster credentials in a pod, else ~/.kube/config. */
  kubeconfig?: string;
  /** Force in-cluster service-account credentials. */
  inCluster?: boolean;
  /** Default `default`. */
  namespace?: string;
  /** When false, `sandbox(image)` refuses to create default pools. Default true. */
  allowDefaultPool?: boolean;
  /** @internal A ready API binding (tests, embedding); skips loading the Kubernetes client. */
  api?: ClusterApi;
}

export interface ClusterSandboxOptions extends CallOptions {
  /** Claim from this pool; never creates anything. */
  pool?: string;
  /** Claim name (default `sandbox-<8 hex>`); reuse it later with `fromName`. */
  name?: string;
  /** Wait until Ready before returning. */
  ready?: boolean;
  /** Readiness deadline when `ready` is set. Default 30 s. */
  readyTimeoutMs?: number;
  env?: Record<string, string>;
  /** Secret values delivered as env: `{ ENV: [secretName, key] }` (the seed's shape). */
  secrets?: Record<string, readonly [string, string]>;
  /** Maximum lifetime as a Go duration, e.g. `30m`. */
  timeout?: string;
  /** Terminate after this long without exec, process, code or file activity (Go duration, e.g. `10m`). */
  idleTimeout?: string;
  /**
   * Bind a Workspace (its `spec.store.s3` set): its head is in /workspace when the sandbox is
   * Ready, and terminate commits /workspace as a new WorkspaceRevision. One writer at a time.
   */
  workspace?: string;
}

export class AgentRun {
  readonly namespace: string;
  readonly allowDefaultPool: boolean;
  readonly #options: AgentRunOptions;
  #api: Promise<ClusterApi> | undefined;

  constructor(options: AgentRunOptions = {}) {
    this.#options = options;
    this.namespace = options.api?.namespace ?? options.namespace ?? 'default';
    this.allowDefaultPool = options.allowDefaultPool ?? true;
    if (options.api) this.#api = Promise.resolve(options.api);
  }

  /**
   * A new sandbox from `image` (through its default pool) or from `options.pool`.
   * @throws AgentRunError `missing_image_or_pool`, `no_default_pool`, `pool_image_mismatch`,
   *   and with `ready`: `sandbox_failed`, `ready_timeout`.
   */
  async sandbox(image?: string, options: ClusterSandboxOptions = {}): Promise<ClusterSandbox> {
    let pool = options.pool;
    if (!pool) {
      if (!image) {
        throw clusterError(
          'missing_image_or_pool',
          'an image or a pool is required',
          "call sandbox('python') or sandbox(undefined, { pool: 'my-pool' })",
        );
      }
      pool = await this.#ensureDefaultPool(image);
    }
    const sandbox = await this.create(pool, options);
    if (options.ready) {
      await sandbox.waitUntilReady({
        timeoutMs: options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
        signal: options.signal,
      });
    }
    return sandbox;
  }

  /** Creates a claim on `pool` and returns at once (the handle waits lazily on first use). */
  async create(pool: string, options: Omit<ClusterSandboxOptions, 'pool' | 'ready'> = {}): Promise<ClusterSandbox> {
    const api = await this.#client();
    const name = options.name ?? `sandbox-${randomBytes(4).toString('hex')}`;
    const spec: Record<string, unknown> = { poolRef: { name: pool } };
    if (options.env && Object.keys(options.env).length > 0) {
      spec.env = Object.entries(options.env).map(([k, v]) => ({ name: k, value: v }));
    }
    if (options.secrets && Object.keys(options.secrets).length > 0) {
      spec.secrets = Object.entries(options.secrets).map(([env, [secret, key]]) => ({
        name: env,
        secretRef: { name: secret, key },
        envVar: env,
      }));
    }
    if (options.timeout) spec.timeout = options.timeout;
    if (options.idleTimeout) spec.idleTimeout = options.idleTimeout;
    if (options.workspace) spec.workspaceRef = { name: options.workspace };
    await api.create('sandboxclaims', {
      apiVersion: API_VERSION,
      kind: 'SandboxClaim',
      metadata: { name, namespace: api.namespace },
      spec,
    });
    return new ClusterSandbox(api, name, pool);
  }

  /** A handle on an existing claim (from another process, say); bound at once if it is Ready. */
  async fromName(name: string): Promise<ClusterSandbox> {
    const api = await this.#client();
    const claim = await api.get('sandboxclaims', name);
    if (!claim) {
      throw clusterError(
        'not_found',
        `SandboxClaim ${name} not found`,
        `check the name and the namespace (${api.namespace})`,
        { name },
      );
    }
    const info = claimInfo(claim);
    const sandbox = new ClusterSandbox(api, name, info.pool);
    if (info.phase === 'Ready' && info.endpoint) await sandbox.bind(info.endpoint, info.sandboxId || name, info.node);
    return sandbox;
  }

  /** Claims in the namespace, optionally only those of `pool`. */
  async list(pool?: string): Promise<ClusterSandboxInfo[]> {
    const api = await this.#client();
    const claims = (await api.list('sandboxclaims')).map(claimInfo);
    return pool === undefined ? claims : claims.filter((c) => c.pool === pool);
  }

  /** A pool's readiness as the controller reports it. */
  async poolStatus(
    name: string,
  ): Promise<{ readySnapshots: number; replicas: number; nodeDistribution: Record<string, number> }> {
    const api = await this.#client();
    const pool = await api.get('sandboxpools', name);
    if (!pool)
      throw clusterError('not_found', `SandboxPool ${name} not found`, 'check the name and the namespace', { name });
    const status = (pool.status ?? {}) as { readySnapshots?: number; nodeDistribution?: Record<string, number> };
    return {
      readySnapshots: status.readySnapshots ?? 0,
      replicas: Number((pool.spec as { replicas?: number } | undefined)?.replicas ?? 0),
      nodeDistribution: status.nodeDistribution ?? {},
    };
  }

  async #ensureDefaultPool(image: string): Promise<string> {
    const api = await this.#client();
    const name = defaultPoolName(image);
    const existing = await api.get('sandboxpools', name);
    if (existing) {
      // Two images can share a slug; never hand out sandboxes of the wrong one.
      const templateName = ((existing.spec ?? {}) as { templateRef?: { name?: string } }).templateRef?.name ?? name;
      const template = await api.get('sandboxtemplates', templateName).catch(() => undefined);
      const actual = (template?.spec as { image?: string } | undefined)?.image;
      if (actual !== image) {
        throw clusterError(
          'pool_image_mismatch',
          `default pool ${name} runs ${actual ?? 'an unknown image'}, not ${image}`,
          'pass an explicit pool, or delete the conflicting default pool',
          { pool: name, image, pool_image: actual ?? 'unknown' },
        );
      }
      return name;
    }
    if (!this.allowDefaultPool) {
      throw clusterError(
        'no_default_pool',
        `no pool ${name} and default pools are disabled`,
        'ask your admin for a pool and pass { pool }, or enable allowDefaultPool',
        { pool: name, image },
      );
    }
    const meta = { name, namespace: api.namespace };
    await createTolerating(api, 'sandboxtemplates', {
      apiVersion: API_VERSION,
      kind: 'SandboxTemplate',
      metadata: meta,
      spec: { image },
    });
    await createTolerating(api, 'sandboxpools', {
      apiVersion: API_VERSION,
      kind: 'SandboxPool',
      metadata: meta,
      spec: { templateRef: { name }, replicas: 1 },
    });
    return name;
  }

  #client(): Promise<ClusterApi> {
    this.#api ??= loadKubeApi({
      kubeconfig: this.#options.kubeconfig,
      inCluster: this.#options.inCluster,
      namespace: this.namespace,
    });
    return this.#api;
  }
}

/** Creating what a concurrent caller just created is success. */
async function createTolerating(
  api: ClusterApi,
  plural: 'sandboxtemplates' | 'sandboxpools',
  body: KubeObjectLike,
): Promise<void> {
  try {
    await api.create(plural, body);
  } catch (err) {
    if (!(err instanceof ClusterApiError && err.status === 409)) throw err;
  }
}
