/**
 * The seed project's Python client (mitos-run 0.1.0, cluster mode) restated call by call, so the
 * contract suite can replay its exact requests against our controller: the same verbs on the
 * same objects with the same bodies (crd-v1.md 9), the same polling and Secret reads, and the
 * same node API requests. It keeps the client's readings too: a phase outside the Python enum
 * is an error here as it is there (`SandboxPhase(...)` raises).
 * @module
 */
import { randomBytes } from 'node:crypto';
import { API_VERSION, tokenSecretName } from '../api/group.js';
import type { Secret } from '../api/meta.js';
import type { SandboxClaim, SandboxFork, SandboxPool, SandboxTemplate } from '../api/v1alpha1/index.js';
import { KubeApiError, type KubeClient } from '../kube/client.js';
import { SANDBOX_CLAIMS, SANDBOX_FORKS, SANDBOX_POOLS, SANDBOX_TEMPLATES, SECRETS } from '../kube/resources.js';

const POLL_MS = 50;
/** The values of the 0.1.0 `SandboxPhase` enum; anything else makes the client raise. */
const SEED_PHASES = new Set(['Pending', 'Restoring', 'Ready', 'Terminating', 'Failed']);

export interface SeedHandle {
  name: string;
  pool: string;
  endpoint?: string;
  sandboxId?: string;
  phase: string;
  token?: string;
}

export interface SeedInfo {
  name: string;
  phase: string;
  endpoint: string;
  node: string;
  sandboxId: string;
}

export interface SeedExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export class SeedClient {
  constructor(
    /** The user's identity (the client uses the user's kubeconfig). */
    private readonly kube: KubeClient,
    private readonly namespace: string,
  ) {}

  /**
   * The default-pool step of `AgentRun.sandbox(image)`: GET the pool; when it exists, GET its
   * template and compare the image; when it is missing, create template and pool (409 is fine).
   * Returns the pool name.
   */
  async ensureDefaultPool(image: string, slug: string): Promise<string> {
    const name = `mitos-default-${slug}`;
    const pool = await this.kube.get<SandboxPool>(SANDBOX_POOLS, this.namespace, name);
    if (pool) {
      const template = await this.kube.get<SandboxTemplate>(
        SANDBOX_TEMPLATES,
        this.namespace,
        pool.spec.templateRef?.name || name,
      );
      if (template?.spec.image !== image) throw new Error(`pool_image_mismatch: ${name}`);
      return name;
    }
    for (const [type, body] of [
      [SANDBOX_TEMPLATES, { kind: 'SandboxTemplate', spec: { image } }],
      [SANDBOX_POOLS, { kind: 'SandboxPool', spec: { templateRef: { name }, replicas: 1 } }],
    ] as const) {
      try {
        await this.kube.create(type, {
          apiVersion: API_VERSION,
          ...body,
          metadata: { name, namespace: this.namespace },
        });
      } catch (err) {
        if (!(err instanceof KubeApiError && err.status === 409)) throw err;
      }
    }
    return name;
  }

  /** `AgentRun.sandbox(pool=..., ready=True)`: create the claim, then wait for it. */
  async sandbox(pool: string, timeoutMs: number, workspace?: string): Promise<SeedHandle> {
    const handle = await this.create(pool, workspace);
    return this.waitUntilReady(handle, timeoutMs);
  }

  /** `create(pool, workspace=)`: the claim alone (crd-v1.md 9.1), without waiting. */
  async create(pool: string, workspace?: string): Promise<SeedHandle> {
    const name = `sandbox-${randomBytes(4).toString('hex')}`;
    await this.kube.create<SandboxClaim>(SANDBOX_CLAIMS, {
      apiVersion: API_VERSION,
      kind: 'SandboxClaim',
      metadata: { name, namespace: this.namespace },
      spec: { poolRef: { name: pool }, ...(workspace !== undefined && { workspaceRef: { name: workspace } }) },
    });
    return { name, pool, phase: 'Pending' };
  }

  /** `Sandbox._wait_ready`: GET the claim every 50 ms until Ready with an endpoint. */
  async waitUntilReady(handle: SeedHandle, timeoutMs: number): Promise<SeedHandle> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const claim = await this.#getClaim(handle.name);
      const status = claim.status ?? {};
      const ready: SeedHandle = {
        ...handle,
        phase: seedPhase(status.phase),
        ...(status.endpoint !== undefined && { endpoint: status.endpoint }),
        ...(status.sandboxID !== undefined && { sandboxId: status.sandboxID }),
      };
      if (ready.phase === 'Ready' && ready.endpoint) return { ...ready, ...(await this.#token(handle.name)) };
      if (ready.phase === 'Failed') throw new Error(`sandbox_failed: ${handle.name}`);
      await sleep(POLL_MS);
    }
    throw new Error(`ready_timeout: ${handle.name}`);
  }

  /** `Sandbox.exec` (blocking): POST /v1/exec with the bearer; a handle without an id waits first. */
  async exec(handle: SeedHandle, command: string, timeoutMs = 30_000): Promise<SeedExecResult> {
    const body = await this.#call<{ exit_code: number; stdout?: string; stderr?: string }>(handle, 'exec', timeoutMs, {
      command,
      timeout: 30,
      working_dir: '/workspace',
    });
    return { exitCode: body.exit_code, stdout: body.stdout ?? '', stderr: body.stderr ?? '' };
  }

  /** `Sandbox.files.write(path, text)`. */
  async writeFile(handle: SeedHandle, path: string, content: string): Promise<void> {
    await this.#call(handle, 'files/write', 30_000, { path, mode: 0o644, content });
  }

  /** `Sandbox.files.read(path)`. */
  async readFile(handle: SeedHandle, path: string): Promise<string> {
    return (await this.#call<{ content: string }>(handle, 'files/read', 30_000, { path })).content;
  }

  /** One sandbox-API request: `sandbox` is the sandboxID (else the name), the bearer when known. */
  async #call<T>(handle: SeedHandle, route: string, timeoutMs: number, fields: object): Promise<T> {
    const bound = handle.sandboxId === undefined ? await this.waitUntilReady(handle, timeoutMs) : handle;
    const res = await fetch(`http://${bound.endpoint}/v1/${route}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(bound.token !== undefined && { authorization: `Bearer ${bound.token}` }),
      },
      body: JSON.stringify({ sandbox: bound.sandboxId || bound.name, ...fields }),
    });
    const body = (await res.json()) as T;
    if (!res.ok) throw new Error(`${route} on ${handle.name} answered ${res.status}: ${JSON.stringify(body)}`);
    return body;
  }

  /** `Sandbox.fork(n)`: create the SandboxFork, poll it, and make a handle per Ready entry. */
  async fork(source: SeedHandle, n: number, timeoutMs: number): Promise<{ fork: string; children: SeedHandle[] }> {
    const fork = `${source.name}-fork-${randomBytes(3).toString('hex')}`;
    await this.kube.create<SandboxFork>(SANDBOX_FORKS, {
      apiVersion: API_VERSION,
      kind: 'SandboxFork',
      metadata: { name: fork, namespace: this.namespace },
      spec: { sourceRef: { name: source.name }, replicas: n, pauseSource: false },
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const current = await this.kube.get<SandboxFork>(SANDBOX_FORKS, this.namespace, fork);
      if (!current) throw new KubeApiError(404, 'NotFound', `sandboxforks.mitos.run "${fork}" not found`);
      const ready = (current.status?.forks ?? []).filter((f) => f.phase === 'Ready');
      if (ready.length >= n) {
        const children: SeedHandle[] = [];
        for (const entry of ready) {
          children.push({
            name: entry.name,
            pool: source.pool,
            endpoint: entry.endpoint,
            sandboxId: entry.sandboxID,
            phase: 'Ready',
            ...(await this.#token(entry.name)),
          });
        }
        return { fork, children };
      }
      await sleep(POLL_MS);
    }
    throw new Error(`ready_timeout: fork ${fork}`);
  }

  /** `Sandbox.info()`: GET the claim. */
  async info(handle: SeedHandle): Promise<SeedInfo> {
    const status = (await this.#getClaim(handle.name)).status ?? {};
    return {
      name: handle.name,
      phase: seedPhase(status.phase),
      endpoint: status.endpoint ?? '',
      node: status.node ?? '',
      sandboxId: status.sandboxID ?? '',
    };
  }

  /** `AgentRun.from_name(name)` (= `get`): GET the claim; the token is read when Ready. */
  async fromName(name: string): Promise<SeedHandle> {
    const claim = await this.#getClaim(name);
    const phase = seedPhase(claim.status?.phase);
    return {
      name,
      pool: claim.spec.poolRef?.name ?? '',
      ...(claim.status?.endpoint !== undefined && { endpoint: claim.status.endpoint }),
      phase,
      ...(phase === 'Ready' ? await this.#token(name) : {}),
    };
  }

  /** `AgentRun.list()`: LIST the claims; every phase must parse. */
  async list(): Promise<Array<{ name: string; pool: string; phase: string }>> {
    const claims = await this.kube.list<SandboxClaim>(SANDBOX_CLAIMS, this.namespace);
    return claims.items.map((c) => ({
      name: c.metadata.name ?? '',
      pool: c.spec.poolRef?.name ?? '',
      phase: seedPhase(c.status?.phase),
    }));
  }

  /**
   * `Sandbox.terminate(outputs)`: merge-patch the outputs (when given), GET the claim for its
   * workspace, DELETE it. Returns the workspace name, or undefined.
   */
  async terminate(handle: SeedHandle, outputs: Array<string | { diff: true }> = []): Promise<string | undefined> {
    if (outputs.length > 0) {
      await this.kube.patch(SANDBOX_CLAIMS, this.namespace, handle.name, {
        spec: { outputs: outputs.map((o) => (typeof o === 'string' ? { path: o } : o)) },
      });
    }
    const claim = await this.#getClaim(handle.name);
    const workspace = claim.spec.workspaceRef?.name;
    if (!(await this.kube.delete(SANDBOX_CLAIMS, this.namespace, handle.name)))
      throw new KubeApiError(404, 'NotFound', `sandboxclaims.mitos.run "${handle.name}" not found`);
    return workspace;
  }

  /** `AgentRun.pool_status(name)`. */
  async poolStatus(name: string): Promise<{ ready: number; desired: number; nodes: Record<string, number> }> {
    const pool = await this.kube.get<SandboxPool>(SANDBOX_POOLS, this.namespace, name);
    if (!pool) throw new KubeApiError(404, 'NotFound', `sandboxpools.mitos.run "${name}" not found`);
    return {
      ready: pool.status?.readySnapshots ?? 0,
      desired: pool.spec.replicas ?? 0,
      nodes: pool.status?.nodeDistribution ?? {},
    };
  }

  /** Like the Python client, the Kubernetes 404 surfaces as an exception. */
  async #getClaim(name: string): Promise<SandboxClaim> {
    const claim = await this.kube.get<SandboxClaim>(SANDBOX_CLAIMS, this.namespace, name);
    if (!claim) throw new KubeApiError(404, 'NotFound', `sandboxclaims.mitos.run "${name}" not found`);
    return claim;
  }

  /** `_load_token`: any error reading the Secret leaves the handle tokenless. */
  async #token(name: string): Promise<{ token?: string }> {
    try {
      const secret = await this.kube.get<Secret>(SECRETS, this.namespace, tokenSecretName(name));
      const token = secret?.data?.token;
      return token ? { token: Buffer.from(token, 'base64').toString('utf8') } : {};
    } catch {
      return {};
    }
  }
}

function seedPhase(phase: string | undefined): string {
  const value = phase ?? 'Pending';
  if (!SEED_PHASES.has(value)) throw new Error(`ValueError: '${value}' is not a valid SandboxPhase`);
  return value;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
