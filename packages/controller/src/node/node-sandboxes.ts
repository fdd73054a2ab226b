/**
 * The node daemon's sandbox operations, as the controller asks for them: prepare a template,
 * keep warm sandboxes for a pool, hand one to a claim (or start a fresh one), fork a running
 * sandbox into children, terminate. Every mutation runs under one lock, so two claims can
 * never take the same warm sandbox, and each is idempotent, so a controller that retries after
 * a crash gets the same answer.
 * @module
 */

import type { Engine } from '@mitos/engine';
import { MitosError, type NetworkRequestBody, postureFromRequest, type TemplateSpec } from '@mitos/protocol';
import { BUILT_IN_IMAGES, isBuiltInImage } from '../util/built-ins.js';
import { SANDBOX_ID_PATTERN, sandboxIdFor, templateIdFor, warmSandboxId } from '../util/ids.js';
import { Mutex } from '../util/mutex.js';
import { type ClaimDelivery, ClaimEnvironments } from './claim-env.js';
import type { LedgerEntry, SandboxLedger, SandboxOwner } from './ledger.js';
import type { TemplateFetch, TemplateTransfer } from './template-transfer.js';
import { NodeWorkspaceIO } from './workspace-io.js';

export type TemplateState = 'building' | 'ready' | 'failed';

/**
 * How the node gets a template: built from a spec (the controller's templateSource), or, with
 * no spec, the built-in `image` names; either one fetched from another node when `fetch` is set.
 */
export interface TemplateRecipe {
  spec?: TemplateSpec;
  network?: NetworkRequestBody;
  /** Fetch the template another node prepared (template-transfer.ts) instead of building it. */
  fetch?: TemplateFetch;
}

export interface NodeCapacity {
  maxSandboxes: number;
  activeSandboxes: number;
  /** Base image -> state of its template on this node. */
  templates: Record<string, TemplateState>;
  /** Images this node fetched from another node rather than built (template-transfer.ts). */
  fetched?: string[];
  /** Built-ins whose tree is in this node's image cache: it can serve them to a node that lacks them. */
  cachedImages?: string[];
}

export interface AcquireRequest {
  namespace: string;
  pool: string;
  claim: string;
  image: string;
  token: string;
  /** Claim env and secrets (claim-env.ts); never logged. */
  delivery?: ClaimDelivery;
}

export interface AcquireResult {
  sandboxId: string;
  /** True when a warm sandbox was handed over (no create on the request path). */
  warm: boolean;
  forkTimeMs: number;
}

export interface ForkRequest {
  namespace: string;
  fork: string;
  source: string;
  children: Array<{ id: string; token: string }>;
  /** false: the source keeps running while it is copied (crd-v1.md 6); absent: the engine default (paused). */
  pauseSource?: boolean;
}

/** How the node is getting (or got) a template: `build` here, or the control endpoint it fetches from. */
export type TemplateVia = 'build' | string;

/** What a node knows about one template: the controller chooses the next source from it. */
export interface TemplateReport {
  state: TemplateState | 'absent';
  /** How the current (or last) attempt gets it. */
  via?: TemplateVia;
  /** Bytes fetched so far of the declared total, while a fetch runs. */
  progress?: { bytes: number; totalBytes: number };
  /**
   * A built-in this node prepares without a fetch: its tree is in the node's image cache (nothing
   * is built), or its engine cannot take one from another node (it builds it, as it always did).
   */
  cached?: boolean;
  /** Attempts that failed in the last RETRY_FAILED_BUILD_MS, oldest first; not retried the same way until then. */
  failures: Array<{ via: TemplateVia; error: string }>;
}

interface TemplateBuild {
  state: TemplateState;
  via: TemplateVia;
  error?: string;
}

/** A way of getting a template that failed is not tried again for this long (other ways are, at once). */
export const RETRY_FAILED_BUILD_MS = 30_000;

export class NodeSandboxes {
  readonly #lock = new Mutex();
  readonly #builds = new Map<string, TemplateBuild>();
  readonly #failures = new Map<string, Array<{ via: TemplateVia; error: string; at: number }>>();
  readonly claimEnv: ClaimEnvironments;
  /** Hydrate and capture of a claim's /workspace (a claim bound to a Workspace). */
  readonly workspaces: NodeWorkspaceIO;
  /** Export to and fetch from other nodes; absent: templates are only built here. */
  transfer: TemplateTransfer | undefined = undefined;

  constructor(
    private readonly engine: Engine,
    private readonly ledger: SandboxLedger,
    private readonly maxSandboxes: number,
    private readonly log: (msg: string, fields?: Record<string, unknown>) => void = () => {},
  ) {
    this.claimEnv = new ClaimEnvironments(engine);
    this.workspaces = new NodeWorkspaceIO(engine, ledger);
    // A sandbox can end on its own (deadline, crash); its entry and token must go with it.
    engine.onSandboxGone((id) => ledger.remove(id));
    // Entries whose sandbox did not survive a restart would otherwise be counted forever.
    for (const entry of ledger.entries()) if (!engine.get(entry.id)) ledger.remove(entry.id);
  }

  capacity(): NodeCapacity {
    const templates: Record<string, TemplateState> = {};
    for (const [image, build] of this.#builds) templates[image] = build.state;
    const fetched = [...(this.transfer?.fetched ?? [])];
    const images = this.engine.builtImages;
    const cachedImages = images ? [...BUILT_IN_IMAGES].filter((i) => images.has(templateIdFor(i))) : [];
    return {
      maxSandboxes: this.maxSandboxes,
      activeSandboxes: this.ledger.entries().length,
      templates,
      ...(fetched.length > 0 && { fetched }),
      ...(cachedImages.length > 0 && { cachedImages }),
    };
  }

  async #build(image: string, id: string, recipe: TemplateRecipe | undefined): Promise<unknown> {
    if (recipe?.fetch) {
      if (!this.transfer) throw new MitosError('not_implemented', 'this node cannot fetch templates from other nodes');
      this.log('fetching template', { template: id, from: recipe.fetch.endpoint, digest: recipe.fetch.digest });
      return this.transfer.fetch(image, recipe.fetch, recipe);
    }
    if (!recipe?.spec) return this.engine.ensureTemplate({ id });
    if (!this.engine.templateBuilds) {
      throw new MitosError('not_implemented', `the ${this.engine.name} engine cannot build templates from a spec`);
    }
    const network = recipe.network ? postureFromRequest(recipe.network) : undefined;
    return this.engine.templateBuilds.build({
      id,
      spec: recipe.spec,
      ...(network && { network }),
      onEvent: (event) => {
        if (event.type === 'step_done')
          this.log('template step', { template: id, step: event.step, cached: event.cached });
      },
    });
  }

  list(): LedgerEntry[] {
    return this.ledger.entries();
  }

  /** The ledger with each sandbox's last activity, as the control API reports it. */
  records(): Array<{ id: string; owner: SandboxOwner; image: string; createdAt: string; lastActivityAt?: string }> {
    return this.ledger.entries().map(({ id, owner, image, createdAt }) => {
      const last = this.claimEnv.lastActivity(id);
      return {
        id,
        owner,
        image,
        createdAt,
        ...(last !== undefined && { lastActivityAt: new Date(last).toISOString() }),
      };
    });
  }

  /**
   * Starts (or reports) the template build for `image`; never waits for it. With a recipe, the
   * engine builds its spec (steps in a build sandbox, an OCI base pulled), or fetches it from
   * the holder the recipe names; else `image` names a built-in. A way that failed lately is
   * not tried again (the answer stays `failed`), but another way starts at once: that is how the
   * controller falls back from one holder to the next, and last to a build here.
   */
  prepareTemplate(image: string, recipe?: TemplateRecipe): TemplateState {
    const id = templateIdFor(image);
    const known = this.#builds.get(image);
    if (known?.state === 'ready' || known?.state === 'building') return known.state;
    if (this.engine.getTemplate(id)?.ready) {
      this.#builds.set(image, { state: 'ready', via: known?.via ?? 'build' });
      return 'ready';
    }
    // A spec template is prepared by the controller, which sends its recipe; a claim that
    // arrives first (or after a restart lost the build) waits for that.
    if (!recipe && image.startsWith('spec-')) return known?.state ?? 'building';
    // A built-in already in this node's cache is prepared from it, whoever offers to send it.
    const way = recipe?.fetch && !recipe.spec && this.#cachedBuiltIn(image) ? undefined : recipe;
    const via: TemplateVia = way?.fetch ? way.fetch.endpoint : 'build';
    if (known?.state === 'failed' && this.#recentFailures(image).some((f) => f.via === via)) return 'failed';
    const build: TemplateBuild = { state: 'building', via };
    this.#builds.set(image, build);
    this.log('preparing template', { image, template: id, via });
    this.#build(image, id, way).then(
      () => {
        build.state = 'ready';
        this.#failures.delete(image);
        this.log('template ready', { image, template: id });
      },
      (err: unknown) => {
        build.state = 'failed';
        // An engine refusal's detail (the failing step, its exit code) is what an operator needs.
        build.error = err instanceof MitosError && err.detail ? err.detail : (err as Error).message;
        this.#failures.set(image, [...this.#recentFailures(image), { via, error: build.error, at: Date.now() }]);
        this.log('template build failed', { image, template: id, via, error: build.error });
      },
    );
    return 'building';
  }

  /** What this node knows about `image`, for the controller to choose where it comes from. */
  templateReport(image: string): TemplateReport {
    // Only reports: a built-in is not started by being asked about.
    const known = this.#builds.get(image);
    const id = templateIdFor(image);
    const ready = this.engine.getTemplate(id)?.ready === true;
    const state = known?.state === 'building' || known?.state === 'failed' ? known.state : ready ? 'ready' : 'absent';
    const progress = known?.state === 'building' ? this.transfer?.progress(image) : undefined;
    const cached = this.#cachedBuiltIn(image);
    return {
      state,
      ...(known && { via: known.via }),
      ...(progress && { progress }),
      ...(cached && { cached }),
      failures: this.#recentFailures(image).map(({ via, error }) => ({ via, error })),
    };
  }

  /** A built-in whose template is ready, whose tree is in this node's image cache, or that cannot be moved here. */
  #cachedBuiltIn(image: string): boolean {
    const id = templateIdFor(image);
    if (!isBuiltInImage(image)) return false;
    const images = this.engine.builtImages;
    return this.engine.getTemplate(id)?.ready === true || !images || images.has(id);
  }

  #recentFailures(image: string) {
    const since = Date.now() - RETRY_FAILED_BUILD_MS;
    return (this.#failures.get(image) ?? []).filter((f) => f.at > since);
  }

  /** Creates up to `count` warm sandboxes for the pool; returns the ids created. */
  addWarm(namespace: string, pool: string, image: string, count: number): Promise<string[]> {
    return this.#lock.run(async () => {
      this.#requireTemplate(image);
      const created: string[] = [];
      for (let i = 0; i < count; i++) {
        if (this.ledger.entries().length >= this.maxSandboxes) break;
        const id = warmSandboxId(pool);
        await this.engine.create({ id, templateId: templateIdFor(image) });
        this.ledger.put({ id, owner: { kind: 'warm', namespace, pool }, image, createdAt: new Date().toISOString() });
        created.push(id);
      }
      return created;
    });
  }

  /** Terminates up to `count` of the pool's warm sandboxes (all when count is undefined). */
  removeWarm(namespace: string, pool: string, count?: number): Promise<string[]> {
    return this.#lock.run(async () => {
      const warm = this.#warmOf(namespace, pool).slice(0, count ?? Number.POSITIVE_INFINITY);
      for (const entry of warm) await this.#terminate(entry.id);
      return warm.map((e) => e.id);
    });
  }

  /** Gives the claim a sandbox: the one it already has, a warm one, or a fresh one. */
  acquire(req: AcquireRequest): Promise<AcquireResult> {
    return this.#lock.run(async () => {
      const out = await this.#acquire(req);
      await this.claimEnv.deliver(this.engine, out.sandboxId, req.delivery ?? {});
      return out;
    });
  }

  async #acquire(req: AcquireRequest): Promise<AcquireResult> {
    const owner: SandboxOwner = { kind: 'claim', namespace: req.namespace, pool: req.pool, claim: req.claim };
    const existing = this.ledger
      .entries()
      .find((e) => e.owner.kind === 'claim' && e.owner.namespace === req.namespace && e.owner.claim === req.claim);
    if (existing) {
      this.ledger.assign(existing.id, owner, req.token);
      return { sandboxId: existing.id, warm: false, forkTimeMs: 0 };
    }
    const warm = this.#warmOf(req.namespace, req.pool).find((e) => e.image === req.image);
    if (warm) {
      const started = performance.now();
      this.ledger.assign(warm.id, owner, req.token);
      return { sandboxId: warm.id, warm: true, forkTimeMs: performance.now() - started };
    }
    this.#requireTemplate(req.image);
    this.#requireRoom(1);
    const id = sandboxIdFor(req.namespace, req.claim);
    if (this.engine.get(id)) throw new MitosError('conflict', `sandbox ${id} exists and is not this claim's`);
    const info = await this.engine.create({ id, templateId: templateIdFor(req.image) });
    this.ledger.put({ id, owner, image: req.image, createdAt: new Date().toISOString() });
    this.ledger.assign(id, owner, req.token);
    return { sandboxId: id, warm: false, forkTimeMs: info.forkTimeMs };
  }

  /** Forks `source` into the children that do not exist yet; returns every requested child. */
  fork(req: ForkRequest): Promise<Array<{ sandboxId: string; forkTimeMs: number }>> {
    return this.#lock.run(async () => {
      const source = this.ledger.get(req.source);
      // A namespace forks only its own sandboxes.
      if (!source || source.owner.namespace !== req.namespace || !this.engine.get(req.source))
        throw new MitosError('not_found', `sandbox ${req.source} is not on this node`);
      for (const child of req.children) {
        if (!SANDBOX_ID_PATTERN.test(child.id)) throw new MitosError('invalid_request', `invalid child id ${child.id}`);
        const other = this.ledger.get(child.id)?.owner;
        // Same fork means same namespace too: a fork of the same name in another namespace must
        // never re-key (and so take over) this one's children.
        const ours = other?.kind === 'fork' && other.namespace === req.namespace && other.fork === req.fork;
        if (other && !ours) throw new MitosError('conflict', `sandbox ${child.id} exists and is not this fork's`);
      }
      const owner: SandboxOwner = { kind: 'fork', namespace: req.namespace, fork: req.fork, source: req.source };
      const missing = req.children.filter((c) => !this.ledger.get(c.id));
      const times = new Map<string, number>();
      if (missing.length > 0) {
        this.#requireRoom(missing.length);
        const outcome = await this.engine.fork(req.source, {
          count: missing.length,
          ids: missing.map((c) => c.id),
          ...(req.pauseSource !== undefined && { pauseSource: req.pauseSource }),
        });
        for (const child of outcome.children) {
          this.ledger.put({ id: child.id, owner, image: source.image, createdAt: new Date().toISOString() });
          times.set(child.id, outcome.forkTimeMs);
        }
      }
      for (const child of req.children) this.ledger.assign(child.id, owner, child.token);
      return req.children.map((c) => ({ sandboxId: c.id, forkTimeMs: times.get(c.id) ?? 0 }));
    });
  }

  /**
   * Idempotent: false when the sandbox was not here. With `namespace`, a sandbox another
   * namespace owns is left alone (false): a name that collides across namespaces never lets
   * one tenant's cleanup end another's sandbox.
   */
  terminate(id: string, namespace?: string): Promise<boolean> {
    return this.#lock.run(async () => {
      const owner = this.ledger.get(id)?.owner;
      if (namespace !== undefined && owner && owner.namespace !== namespace) return false;
      return this.#terminate(id);
    });
  }

  async #terminate(id: string): Promise<boolean> {
    const known = this.ledger.get(id) !== undefined || this.engine.get(id) !== undefined;
    await this.engine.terminate(id);
    this.ledger.remove(id);
    return known;
  }

  #warmOf(namespace: string, pool: string): LedgerEntry[] {
    return this.ledger
      .entries()
      .filter((e) => e.owner.kind === 'warm' && e.owner.namespace === namespace && e.owner.pool === pool)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  #requireTemplate(image: string): void {
    // A built-in this node lacks is fetched from a node that has it (the controller directs
    // that), never built on the request path: a debootstrap takes minutes.
    if (isBuiltInImage(image) && !this.#cachedBuiltIn(image)) {
      const now = this.#builds.get(image)?.state === 'building' ? 'being fetched' : 'absent';
      throw new MitosError(
        'template_not_ready',
        `template for ${image} is ${now}: its image is not in this node's cache (the controller fetches it from a node that has it)`,
      );
    }
    const state = this.prepareTemplate(image);
    if (state !== 'ready') {
      const detail = state === 'failed' ? `: ${this.#builds.get(image)?.error ?? 'build failed'}` : '';
      throw new MitosError('template_not_ready', `template for ${image} is ${state}${detail}`);
    }
  }

  #requireRoom(count: number): void {
    if (this.ledger.entries().length + count > this.maxSandboxes) {
      throw new MitosError('capacity_exhausted', `node is at its limit of ${this.maxSandboxes} sandboxes`);
    }
  }
}

/** Engine failures the control API should report as conflicts rather than 500s. */
export function isEngineConflict(err: unknown): boolean {
  return err instanceof MitosError && (err.code === 'conflict' || err.code === 'sandbox_not_running');
}
