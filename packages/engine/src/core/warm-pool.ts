/**
 * The warm pool: launched sandboxes kept per template that nobody owns yet (state `pooled`),
 * so a create only renames one (a few ms) instead of launching (tens of ms). Works over any
 * driver that can rename a sandbox; each idle pooled sandbox costs what an idle sandbox costs.
 *
 * Only templates in recent use keep a pool: a create, a build or an ensure of the template
 * counts as a use, and `idleMs` after the last one its pooled sandboxes are ended and not
 * refilled until the next use (a mistyped template's pool does not live on).
 *
 * At most `maxTemplates` templates keep a pool at once: a use of one more ends the pool of the
 * template used least recently. So whatever templates a tenant makes and uses, the pools hold at
 * most maxTemplates x size sandboxes, each within its template's limits (the kernels a pool
 * starts ahead run inside the pooled sandbox, under its memory limit).
 */
import { randomBytes } from 'node:crypto';
import type { ResourceLimits, WarmPoolStatus } from '../engine.js';
import { isSameProcess } from '../host/proc.js';
import type { SandboxRow, StateStore, TemplateRow } from '../state/store.js';
import type { SandboxAgents } from './agents.js';
import type { SandboxDriver } from './driver.js';
import { blankRow } from './rows.js';

/** Pause before a refill starts (see refill). */
const REFILL_DELAY_MS = 150;
/** A refill starts once no user call has been in flight for this long... */
const REFILL_QUIET_MS = 20;
/** ...or this long after it was asked for, whatever the traffic (the pool must not stay empty). */
const REFILL_MAX_WAIT_MS = 2_000;

/** How long a template's pool outlives its last use, by default. */
export const DEFAULT_POOL_IDLE_MS = 10 * 60_000;

/** How many templates keep a pool at once, by default. */
export const DEFAULT_POOL_TEMPLATES = 8;

export interface PoolHost {
  store: StateStore;
  driver: SandboxDriver;
  agents: SandboxAgents;
  /** Launch a reserved row, warm it (its agent connected, kernels) and record it running. */
  launchReserved(row: SandboxRow, template: TemplateRow): Promise<unknown>;
  teardown(row: SandboxRow): Promise<void>;
  /** Bring the sandboxes already pooled up to what the pool wants now (kernels), before a refill. */
  warmUp?(templateId: string): Promise<void>;
  isOpen(): boolean;
  log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
}

export class WarmPool {
  private readonly refills = new Map<string, Promise<void>>();
  /** Templates asked to refill while a refill ran: it looks again once done. */
  private readonly again = new Set<string>();
  /** performance.now() of each template's last use, and the timer that checks it for idleness. */
  private readonly lastUse = new Map<string, number>();
  private readonly expiries = new Map<string, NodeJS.Timeout>();
  private readonly drains = new Set<Promise<void>>();
  /** User calls in flight (see duringCall), and when the last one ended. */
  private inFlight = 0;
  private lastCallEnded = 0;

  /**
   * `idleMs`: a template's pool is drained this long after its last use; 0 keeps it for ever.
   * `maxTemplates`: templates that keep a pool at once (the least recently used beyond it is drained).
   */
  constructor(
    private readonly host: PoolHost,
    private readonly size: number,
    private readonly idleMs = DEFAULT_POOL_IDLE_MS,
    private readonly maxTemplates = DEFAULT_POOL_TEMPLATES,
  ) {}

  private enabled(): boolean {
    return this.size > 0 && this.host.driver.rename !== undefined && this.host.isOpen();
  }

  /**
   * A pooled sandbox of `template` renamed to `id`, or undefined. A pooled sandbox's /dev/shm
   * was sized for the template's memory limit: a smaller limit needs a fresh launch.
   */
  async take(
    template: TemplateRow,
    id: string,
    limits: ResourceLimits,
    env?: Record<string, string>,
  ): Promise<SandboxRow | undefined> {
    this.touch(template.id);
    if (!this.enabled() || limits.memoryBytes < template.limits.memoryBytes) return undefined;
    const pooled = await this.takeLive(template.id, id);
    if (!pooled) {
      // A template in use again after its pool was ended (or drained by creates): fill it.
      this.refill(template.id);
      return undefined;
    }
    const row: SandboxRow = { ...pooled, id, hostname: id, limits, createdAt: new Date(), env };
    try {
      this.host.store.setEnv(id, env);
      await this.host.driver.rename?.(pooled, id, limits);
      const moveKernels = this.host.agents.kernels.handOut(pooled.id, id, env);
      this.host.agents.handOver(pooled.id, id);
      await this.host.agents.client(id).setIdentity(id, randomBytes(64));
      moveKernels();
    } catch (err) {
      // A pooled sandbox is only a head start: one that fails its hand-out (its processes killed
      // from the host after the liveness check, say) is reaped, and the create launches afresh.
      await this.host.teardown(row).catch(() => {});
      this.host.log('warn', 'pooled sandbox failed its hand-out; launching a fresh one', {
        sandbox: id,
        error: String(err),
      });
      this.refill(template.id);
      return undefined;
    }
    this.refill(template.id);
    return row;
  }

  /**
   * A pooled sandbox whose init died (killed from the host, OOM) would fail its adoption: it
   * is reaped and the next one tried, so a create falls back to a fresh launch instead.
   */
  private async takeLive(templateId: string, id: string): Promise<SandboxRow | undefined> {
    for (;;) {
      const pooled = this.host.store.takePooled(templateId, id);
      if (!pooled) return undefined;
      // The init's identity, not a ping: a ping forks an agent worker on the hand-out path.
      const alive =
        pooled.initPid !== null &&
        pooled.initStartTicks !== null &&
        isSameProcess(pooled.initPid, pooled.initStartTicks);
      if (alive) return pooled;
      this.host.log('warn', 'pooled sandbox is dead; reaping it', { sandbox: pooled.id });
      this.host.store.deleteSandbox(id);
      await this.host.teardown(pooled).catch(() => {});
    }
  }

  /**
   * Top up a template's pool in the background, one sandbox at a time. It starts after a
   * short pause and a quiet moment (quietMoment): a client that just created a sandbox usually
   * runs a command in it next, and that command should not queue behind a snapshot and a launch
   * for the pool.
   */
  refill(templateId: string): void {
    this.touch(templateId);
    if (!this.enabled()) return;
    if (this.refills.has(templateId)) {
      // What the pool wants may have changed since this refill began (kernels): look again after it.
      this.again.add(templateId);
      return;
    }
    const work = (async () => {
      await this.quietMoment();
      do {
        this.again.delete(templateId);
        if (this.enabled()) await this.host.warmUp?.(templateId);
        if (!(await this.fill(templateId))) return;
      } while (this.again.has(templateId));
    })().finally(() => {
      this.refills.delete(templateId);
      this.again.delete(templateId);
    });
    this.refills.set(templateId, work);
  }

  /**
   * A user's call (an exec, a cell) under way: a refill waits until none is, so the launch's
   * CPU and its synchronous host work (cgroups, network plumbing) do not land in the middle of it.
   */
  duringCall<T>(call: Promise<T>): Promise<T> {
    this.inFlight++;
    return call.finally(() => {
      this.inFlight--;
      this.lastCallEnded = performance.now();
    });
  }

  /** REFILL_DELAY_MS, then the first moment no call was in flight for REFILL_QUIET_MS (bounded). */
  private async quietMoment(): Promise<void> {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const giveUp = performance.now() + REFILL_MAX_WAIT_MS;
    await sleep(REFILL_DELAY_MS);
    while (this.host.isOpen() && performance.now() < giveUp) {
      const quietFor = this.inFlight > 0 ? 0 : performance.now() - this.lastCallEnded;
      if (quietFor >= REFILL_QUIET_MS) return;
      await sleep(REFILL_QUIET_MS - quietFor);
    }
  }

  /** Launch pooled sandboxes until the template's pool is full; false when a launch failed. */
  private async fill(templateId: string): Promise<boolean> {
    const { store } = this.host;
    while (this.enabled() && this.lastUse.has(templateId) && store.pooledCount(templateId) < this.size) {
      const template = store.template(templateId);
      if (!template) return true;
      const tag = randomBytes(6).toString('hex');
      // The cgroup key outlives the pool id, so it has a '.', which no sandbox id may have:
      // a user's later sandbox named `pool-<tag>` can never be given this one's cgroups.
      const row = blankRow(`pool-${tag}`, templateId, template.limits, `pool.${tag}`);
      if (!store.reserveSandbox(row)) continue;
      try {
        this.host.driver.admit('create', row.limits);
        await this.host.launchReserved(row, template);
        store.setState(row.id, 'pooled');
      } catch (err) {
        this.host.log('warn', 'warm pool refill failed', { template: templateId, error: String(err) });
        await this.host.teardown(row).catch(() => {});
        return false;
      }
    }
    return true;
  }

  /**
   * Pooled sandboxes a previous engine left (reattached at start) count as used now, so they
   * are ended after `idleMs` unless their template is used.
   */
  arm(): void {
    for (const row of this.host.store.sandboxes()) if (row.state === 'pooled') this.touch(row.templateId);
  }

  /** Note a use of the template; its pool's expiry is checked `idleMs` from the first one. */
  private touch(templateId: string): void {
    // Re-inserted, so the map's order is the order of last use.
    this.lastUse.delete(templateId);
    this.lastUse.set(templateId, performance.now());
    if (this.idleMs > 0 && !this.expiries.has(templateId)) this.expireIn(templateId, this.idleMs);
    for (const oldest of this.lastUse.keys()) {
      if (this.lastUse.size <= this.maxTemplates) break;
      this.lastUse.delete(oldest);
      clearTimeout(this.expiries.get(oldest));
      this.expiries.delete(oldest);
      this.track(this.end(oldest, 'warm pool drained: more templates in use than the pool keeps'));
    }
  }

  private track(drain: Promise<void>): void {
    const tracked = drain.finally(() => this.drains.delete(tracked));
    this.drains.add(tracked);
  }

  private expireIn(templateId: string, ms: number): void {
    const timer = setTimeout(() => {
      this.expiries.delete(templateId);
      this.track(this.expire(templateId));
    }, ms);
    // The pool must not keep a process alive; an engine that closes stops it in `close`.
    timer.unref();
    this.expiries.set(templateId, timer);
  }

  /** End the template's pooled sandboxes if it was not used for `idleMs`, else look again later. */
  private async expire(templateId: string): Promise<void> {
    const idle = performance.now() - (this.lastUse.get(templateId) ?? Number.NEGATIVE_INFINITY);
    if (idle < this.idleMs) {
      this.expireIn(templateId, this.idleMs - idle);
      return;
    }
    this.lastUse.delete(templateId);
    await this.end(templateId, 'warm pool drained: template not used recently');
  }

  /** End a template no longer in `lastUse`: its pooled sandboxes, once its refill in flight is done. */
  private async end(templateId: string, reason: string): Promise<void> {
    try {
      await this.refills.get(templateId);
      // Used again while the refill finished: that use armed a new expiry.
      if (this.lastUse.has(templateId) || !this.host.isOpen()) return;
      let ended = 0;
      for (const row of this.host.store.sandboxes()) {
        // Claimed first, so a create that takes this sandbox at the same moment keeps it.
        if (row.templateId !== templateId || row.state !== 'pooled' || !this.host.store.unpool(row.id)) continue;
        await this.host.teardown(row).catch(() => {});
        ended++;
      }
      if (ended > 0) this.host.log('info', reason, { template: templateId, ended });
    } catch (err) {
      this.host.log('warn', 'warm pool drain failed', { template: templateId, error: String(err) });
    }
  }

  /** Stop the expiry timers (the engine is closing). */
  stop(): void {
    for (const timer of this.expiries.values()) clearTimeout(timer);
    this.expiries.clear();
  }

  /** What the pool holds now, per template, for the health report. */
  status(): WarmPoolStatus {
    const templates = this.host.store.templates().map((t) => ({
      template: t.id,
      ready: this.host.store.pooledCount(t.id),
      refilling: this.refills.has(t.id),
    }));
    return { size: this.size, enabled: this.enabled(), templates };
  }

  /** Wait for refills and drains in flight. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.refills.values(), ...this.drains]);
  }

  /** Terminate every pooled sandbox. */
  async drain(): Promise<void> {
    await this.settle();
    for (const row of this.host.store.sandboxes()) if (row.state === 'pooled') await this.host.teardown(row);
  }
}
