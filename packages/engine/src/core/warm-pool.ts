/**
 * The warm pool: launched sandboxes kept per template that nobody owns yet (state `pooled`),
 * so a create only renames one (a few ms) instead of launching (tens of ms). Works over any
 * driver that can rename a sandbox; each idle pooled sandbox costs what an idle sandbox costs.
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

export interface PoolHost {
  store: StateStore;
  driver: SandboxDriver;
  agents: SandboxAgents;
  /** Launch a reserved row and record it running. */
  launchReserved(row: SandboxRow, template: TemplateRow): Promise<unknown>;
  teardown(row: SandboxRow): Promise<void>;
  isOpen(): boolean;
  log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
}

export class WarmPool {
  private readonly refills = new Map<string, Promise<void>>();

  constructor(
    private readonly host: PoolHost,
    private readonly size: number,
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
    if (!this.enabled() || limits.memoryBytes < template.limits.memoryBytes) return undefined;
    const pooled = await this.takeLive(template.id, id);
    if (!pooled) return undefined;
    const row: SandboxRow = { ...pooled, id, hostname: id, limits, createdAt: new Date(), env };
    try {
      this.host.store.setEnv(id, env);
      await this.host.driver.rename?.(pooled, id, limits);
      const tellKernel = this.host.agents.kernels.handOut(pooled.id, id, env);
      this.host.agents.forget(pooled.id);
      await this.host.agents.client(id).setIdentity(id, randomBytes(64));
      tellKernel();
    } catch (err) {
      await this.host.teardown(row).catch(() => {});
      throw err;
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
   * short pause: a client that just created a sandbox usually runs a command in it next, and
   * that command should not queue behind a snapshot and a launch for the pool.
   */
  refill(templateId: string): void {
    if (!this.enabled() || this.refills.has(templateId)) return;
    const { store } = this.host;
    const work = (async () => {
      await new Promise((r) => setTimeout(r, REFILL_DELAY_MS));
      while (this.enabled() && store.pooledCount(templateId) < this.size) {
        const template = store.template(templateId);
        if (!template) return;
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
          return;
        }
      }
    })().finally(() => this.refills.delete(templateId));
    this.refills.set(templateId, work);
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

  /** Wait for refills in flight. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.refills.values()]);
  }

  /** Terminate every pooled sandbox. */
  async drain(): Promise<void> {
    await this.settle();
    for (const row of this.host.store.sandboxes()) if (row.state === 'pooled') await this.host.teardown(row);
  }
}
