/**
 * A sandbox in cluster mode: a SandboxClaim on the Kubernetes side (a fork's children are
 * claims too, `<fork>-fork-<i>`, made by the controller), and the node daemon's sandbox API at `status.endpoint` for everything that runs in it.
 * Once Ready, calls go through a direct-mode {@link Sandbox} bound to `http://<endpoint>` with
 * the token from `<name>-sandbox-token`, so exec, files, processes and the rest behave exactly
 * as in direct mode.
 * @module
 */
import type { SandboxFiles } from '../files.js';
import { HttpClient } from '../http.js';
import type { SandboxProcesses } from '../processes.js';
import { Sandbox } from '../sandbox.js';
import type { CallOptions, ExecOptions, ExecResult } from '../types.js';
import type { ClusterApi, KubeObjectLike } from './api.js';
import { clusterError, readyTimeout } from './errors.js';
import { createFork } from './fork.js';
import { pollUntil } from './poll.js';

export const DEFAULT_READY_TIMEOUT_MS = 30_000;
const TOKEN_SECRET_SUFFIX = '-sandbox-token';

export interface WaitOptions extends CallOptions {
  /** Default 30 s. */
  timeoutMs?: number;
}

export interface ForkOptions extends WaitOptions {
  pauseSource?: boolean;
}

export interface ClusterSandboxInfo {
  name: string;
  pool: string | undefined;
  phase: string;
  endpoint: string;
  node: string;
  sandboxId: string;
  /** Microseconds; 0 when the controller did not report it. */
  forkTimeMicros: number;
}

interface Binding {
  endpoint: string;
  sandboxId: string;
  node: string;
  direct: Sandbox;
}

export class ClusterSandbox {
  readonly name: string;
  readonly pool: string | undefined;
  readonly #api: ClusterApi;
  #binding: Binding | undefined;

  /** @internal Use `AgentRun.sandbox()`, `AgentRun.fromName()` or `ClusterSandbox.fork()`. */
  constructor(api: ClusterApi, name: string, pool: string | undefined) {
    this.#api = api;
    this.name = name;
    this.pool = pool;
  }

  /** Bare host:port of the node's sandbox API; empty until Ready. */
  get endpoint(): string {
    return this.#binding?.endpoint ?? '';
  }

  /** The id the node knows this sandbox by; empty until Ready. */
  get sandboxId(): string {
    return this.#binding?.sandboxId ?? '';
  }

  get node(): string {
    return this.#binding?.node ?? '';
  }

  get ready(): boolean {
    return this.#binding !== undefined;
  }

  /**
   * The direct-mode handle on the node's sandbox API, for everything not mirrored here
   * (runCode, pty, ports...). Its `terminate()` and `fork()` bypass the controller; use this
   * object's instead.
   */
  get direct(): Sandbox {
    return this.#requireBinding().direct;
  }

  get files(): SandboxFiles {
    return this.#requireBinding().direct.files;
  }

  get processes(): SandboxProcesses {
    return this.#requireBinding().direct.processes;
  }

  /**
   * Polls the claim until it is Ready with an endpoint, then loads the token. Chainable.
   * @throws AgentRunError `sandbox_failed` when the claim fails, `ready_timeout` at the deadline.
   */
  async waitUntilReady(options: WaitOptions = {}): Promise<this> {
    if (this.#binding) return this;
    const timeoutMs = options.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    const claim = await pollUntil(
      async () => {
        const current = await this.#api.get('sandboxclaims', this.name);
        if (!current) {
          throw clusterError(
            'not_found',
            `SandboxClaim ${this.name} not found`,
            'it was deleted, or never created in this namespace',
            {
              name: this.name,
            },
          );
        }
        const status = (current.status ?? {}) as { phase?: string; endpoint?: string };
        if (status.phase === 'Failed') throw failed(this.name, current);
        return status.phase === 'Ready' && status.endpoint ? current : undefined;
      },
      { timeoutMs, signal: options.signal, onTimeout: () => readyTimeout('SandboxClaim', this.name, timeoutMs) },
    );
    const status = claim.status as { endpoint: string; sandboxID?: string; node?: string };
    await this.bind(status.endpoint, status.sandboxID || this.name, status.node ?? '');
    return this;
  }

  /** @internal Points the handle at a Ready sandbox and loads its token. */
  async bind(endpoint: string, sandboxId: string, node: string): Promise<void> {
    const secret = await this.#api.readSecret(`${this.name}${TOKEN_SECRET_SUFFIX}`);
    const baseUrl = /^[a-z]+:\/\//i.test(endpoint) ? endpoint : `http://${endpoint}`;
    const http = new HttpClient({ baseUrl, apiKey: secret?.token });
    const direct = new Sandbox(
      {
        id: sandboxId,
        templateId: this.pool ?? '',
        endpoint: baseUrl,
        createdAt: undefined,
        forkTimeMs: 0,
        state: 'running',
      },
      http,
    );
    this.#binding = { endpoint, sandboxId, node, direct };
  }

  /**
   * Runs `command` in the sandbox (working directory `/workspace` unless `cwd` says otherwise),
   * waiting for readiness first if needed.
   * @example const { stdout } = await sb.exec("python3 -c 'print(2+2)'");
   */
  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    await this.waitUntilReady(options);
    return this.direct.exec(command, { cwd: '/workspace', ...options });
  }

  /**
   * `n` live copies of this sandbox on the same node, each Ready with its own token. Each child
   * is a SandboxClaim of its own, so it behaves like any other handle: `terminate()` ends that
   * child only, `info()` and `fromName()` work, and a child can be forked again.
   * @example const [a, b] = await sb.fork(2);
   */
  async fork(n = 1, options: ForkOptions = {}): Promise<ClusterSandbox[]> {
    if (!Number.isInteger(n) || n < 1) {
      throw clusterError('invalid_request', 'fork count must be a whole number >= 1', 'pass n >= 1', { n });
    }
    await this.waitUntilReady(options);
    const entries = await createFork(this.#api, this.name, n, options);
    const children: ClusterSandbox[] = [];
    for (const entry of entries) {
      const child = new ClusterSandbox(this.#api, entry.name, this.pool);
      await child.bind(entry.endpoint, entry.sandboxID || entry.name, entry.node);
      children.push(child);
    }
    return children;
  }

  /**
   * Ends the sandbox by deleting its claim (the controller releases the sandbox, its token
   * Secret and its forks; for a fork child, that child only). Returns at once; an already-gone
   * sandbox is not an error.
   */
  async terminate(): Promise<void> {
    await this.#api.delete('sandboxclaims', this.name);
    this.#binding = undefined;
  }

  /** The claim's current state. */
  async info(): Promise<ClusterSandboxInfo> {
    const claim = await this.#api.get('sandboxclaims', this.name);
    if (!claim)
      throw clusterError('not_found', `SandboxClaim ${this.name} not found`, 'it was deleted', { name: this.name });
    return claimInfo(claim);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.terminate();
  }

  /** Identity only, never the token. */
  toJSON(): { name: string; pool: string | undefined; endpoint: string; sandboxId: string } {
    return { name: this.name, pool: this.pool, endpoint: this.endpoint, sandboxId: this.sandboxId };
  }

  #requireBinding(): Binding {
    if (!this.#binding) throw this.#notReady();
    return this.#binding;
  }

  #notReady() {
    return clusterError(
      'sandbox_not_ready',
      `sandbox ${this.name} is not Ready yet`,
      'pass { ready: true } to AgentRun.sandbox(), or await sandbox.waitUntilReady() first',
      { name: this.name },
    );
  }
}

export function claimInfo(claim: KubeObjectLike): ClusterSandboxInfo {
  const status = (claim.status ?? {}) as {
    phase?: string;
    endpoint?: string;
    node?: string;
    sandboxID?: string;
    forkTimeMicros?: number;
  };
  const spec = (claim.spec ?? {}) as { poolRef?: { name?: string } };
  return {
    name: claim.metadata.name ?? '',
    pool: spec.poolRef?.name,
    phase: status.phase || 'Pending',
    endpoint: status.endpoint ?? '',
    node: status.node ?? '',
    sandboxId: status.sandboxID ?? '',
    forkTimeMicros: status.forkTimeMicros ?? 0,
  };
}

function failed(name: string, claim: KubeObjectLike) {
  const conditions = (
    (claim.status ?? {}) as { conditions?: Array<{ type: string; reason?: string; message?: string }> }
  ).conditions;
  const ready = conditions?.find((c) => c.type === 'Ready');
  return clusterError(
    'sandbox_failed',
    `sandbox ${name} failed`,
    'see `kubectl describe sandboxclaim` for the reason; create a new sandbox',
    { name, ...(ready?.reason && { reason: ready.reason }) },
    ready?.message,
  );
}
