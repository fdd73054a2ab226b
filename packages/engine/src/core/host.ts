/**
 * The sandbox host core: the `Engine` every driver gets, written once. It owns the rows (SQLite),
 * ids and limits, the lifecycle and its states, deadlines, the warm pool and the agents; the
 * driver (driver.ts) only launches, snapshots, freezes, tears down and measures.
 *
 *   creating --launch ok--> running <--pause/resume--> paused
 *       |                      |                          |
 *   launch failed          terminate / deadline       terminate / deadline
 *       v                      v                          v
 *   (reaped)               terminating --teardown--> (row removed)
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { MitosError, type NetworkPosture } from '@mitos/protocol';
import type {
  Acceptance,
  CreateSandboxOptions,
  CreateTemplateOptions,
  EndReason,
  Engine,
  ExecOptions,
  ExecResult,
  ForkOptions,
  ForkOutcome,
  OciTools,
  ProcessHandle,
  ProcessInfo,
  ProcessOptions,
  RunCodeOptions,
  RunCodeOutcome,
  SandboxFiles,
  SandboxInfo,
  SandboxUsage,
  TemplateInfo,
} from '../engine.js';
import type { StateDatabase } from '../state/database.js';
import { type SandboxRow, StateStore, type TemplateRow } from '../state/store.js';
import { ContextStore } from '../templates/build/context-store.js';
import { SandboxAgents } from './agents.js';
import { ensureBuiltinTemplate } from './builtin-template.js';
import { DeadlineScheduler } from './deadlines.js';
import { type DriverEvents, launchedOf, type SandboxDriver } from './driver.js';
import { SandboxEndings } from './endings.js';
import { forkSandbox } from './fork.js';
import { admitted, changePosture, effectivePosture, egressBytesOf, handOutPosture } from './network.js';
import { alreadyExists, assertValidId, blankRow, mergeLimits, publicSandbox, publicTemplate } from './rows.js';
import { sandboxEnv } from './sandbox-env.js';
import { type TemplateSpecs, templateSpecsFor } from './template-specs.js';
import { startTemplateCommand, TemplateConfigs } from './template-start.js';
import { WarmPool } from './warm-pool.js';

export type EngineLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface HostOptions {
  db: StateDatabase;
  /** Close the database with the engine (it opened it). */
  ownsDb: boolean;
  /** Launched sandboxes kept per template (drivers that can rename); 0 disables. */
  warmPoolSize?: number;
  log?: EngineLog;
  /** Blob store of template build contexts (templates built from a spec). */
  contextDir?: string;
  /** Pull and push of OCI images for templates built from a spec (absent: template ids only). */
  oci?: OciTools;
}

/** Builds the driver once the host exists, so the driver can raise events on it. */
export type DriverFactory<D extends SandboxDriver> = (events: DriverEvents) => D;

export class SandboxHost<D extends SandboxDriver = SandboxDriver> implements Engine {
  readonly files: SandboxFiles;
  readonly db: StateDatabase;
  protected readonly driver: D;
  protected readonly store: StateStore;
  protected readonly agents: SandboxAgents;
  private readonly deadlines: DeadlineScheduler;
  private readonly endings: SandboxEndings;
  readonly pool: WarmPool;
  private readonly events = new EventEmitter();
  private closed = false;
  readonly templateBuilds: TemplateSpecs;
  private readonly configs: TemplateConfigs;

  constructor(
    makeDriver: DriverFactory<D>,
    private readonly options: HostOptions,
  ) {
    this.db = options.db;
    this.store = new StateStore(options.db);
    this.configs = new TemplateConfigs(this.store);
    this.driver = makeDriver({
      relaunched: (id, launched) => {
        const row = this.store.sandbox(id);
        if (row) this.store.markRunning(id, { ...launched, forkTimeMs: row.forkTimeMs });
      },
      lost: (id, why) => {
        this.log('warn', 'sandbox lost; terminating', { sandbox: id, why });
        void this.endings.end(id, 'lost').catch(() => {});
      },
    });
    this.agents = new SandboxAgents(
      (id) => this.driver.socketPath(id),
      (id) => this.store.sandbox(id)?.env,
    );
    this.files = this.agents.files(
      (id) => this.running(id),
      () => this.driver.admit('write'),
    );
    this.endings = new SandboxEndings({
      row: (id) => this.store.sandbox(id),
      resume: (id) => this.resume(id),
      end: (id) => this.endNow(id),
      log: (level, msg, fields) => this.log(level, msg, fields),
    });
    this.deadlines = new DeadlineScheduler({
      deadlines: () => this.store.deadlines(),
      expire: async (id) => {
        this.log('info', 'sandbox deadline reached; terminating', { sandbox: id });
        await this.endings.end(id, 'deadline');
      },
    });
    this.pool = new WarmPool(
      {
        store: this.store,
        driver: this.driver,
        agents: this.agents,
        launchReserved: (row, template) => this.launchReserved(row, template),
        teardown: (row) => this.teardown(row),
        isOpen: () => !this.closed,
        log: (level, msg, fields) => this.log(level, msg, fields),
      },
      options.warmPoolSize ?? 0,
    );
    this.events.setMaxListeners(0);
    this.templateBuilds = templateSpecsFor({
      db: options.db,
      store: this.store,
      driver: this.driver,
      agents: this.agents,
      context: options.contextDir ? new ContextStore(options.contextDir) : undefined,
      ...options.oci,
      teardown: (row) => this.teardown(row),
      // A rebuilt template's pooled sandboxes run the old image: they go, and the pool refills.
      published: async (row) => {
        await this.dropPooled(row.id);
        this.pool.refill(row.id);
      },
      deleted: (id) => this.dropPooled(id),
    });
  }

  private async dropPooled(templateId: string): Promise<void> {
    this.configs.forget(templateId);
    for (const row of this.store.sandboxes()) {
      if (row.templateId === templateId && row.state === 'pooled') await this.teardown(row).catch(() => {});
    }
  }

  get name(): string {
    return this.driver.name;
  }

  /** Reattach what a previous engine left running, reap the rest; then arm deadlines. */
  protected async start(): Promise<void> {
    for (const row of this.store.sandboxes()) {
      if (await this.driver.reattach(row, () => this.agents.client(row.id).ping()).catch(() => false)) {
        this.log('info', 'reattached sandbox', { sandbox: row.id, pid: row.initPid });
        continue;
      }
      this.log('warn', 'reaping sandbox left behind', { sandbox: row.id, state: row.state });
      await this.teardown(row);
    }
    await this.driver.reapOrphans(new Set(this.store.sandboxes().map((r) => r.id)));
    this.deadlines.rearm();
  }

  protected log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void {
    this.options.log?.(level, msg, fields);
  }

  listTemplates(): TemplateInfo[] {
    return this.store.templates().map(publicTemplate);
  }

  getTemplate(id: string): TemplateInfo | undefined {
    const t = this.store.template(id);
    return t ? publicTemplate(t) : undefined;
  }

  ensureTemplate(options: CreateTemplateOptions): Promise<TemplateInfo> {
    return ensureBuiltinTemplate(
      { driver: this.driver, store: this.store, refill: (id) => this.pool.refill(id) },
      options,
    );
  }

  async create(options: CreateSandboxOptions): Promise<SandboxInfo> {
    this.assertOpen();
    const started = performance.now();
    const { id } = options;
    assertValidId('sandbox', id);
    const template = this.store.template(options.templateId);
    if (!template) throw new MitosError('not_found', `template "${options.templateId}" not found`);
    const [limits, env] = [mergeLimits(template.limits, options.limits), sandboxEnv(options.env)];
    const network = admitted(this.driver, options.network ?? template.network);
    this.driver.admit('create', limits);
    if (this.store.sandbox(id)) throw alreadyExists(id);
    const pooled = await this.pool.take(template, id, limits, env);
    if (pooled) {
      await handOutPosture(this.driver, pooled, network, template, (row) => this.teardown(row));
      const forkTimeMs = performance.now() - started;
      this.store.markRunning(id, { ...launchedOf(pooled), forkTimeMs });
      return publicSandbox({ ...pooled, state: 'running', forkTimeMs });
    }
    const row = { ...blankRow(id, template.id, limits), env };
    if (!this.store.reserveSandbox(row)) throw alreadyExists(id);
    try {
      this.driver.network?.reserve(id, network);
      const forkTimeMs = await this.launchReserved(row, template, started);
      return publicSandbox({ ...row, state: 'running', forkTimeMs });
    } catch (err) {
      await this.teardown(row).catch((e) =>
        this.log('error', 'cleanup after failed create', { sandbox: id, error: String(e) }),
      );
      throw err;
    }
  }

  /** Launch a reserved row and record it running; returns its create time (0 for the pool). */
  private async launchReserved(row: SandboxRow, template: TemplateRow, started?: number): Promise<number> {
    const launched = await this.driver.launch(row, template);
    await startTemplateCommand(this.agents, row.id, template.id, this.configs.of(template.id));
    const forkTimeMs = started === undefined ? 0 : performance.now() - started;
    this.store.markRunning(row.id, { ...launched, forkTimeMs });
    return forkTimeMs;
  }

  get(id: string): SandboxInfo | undefined {
    const row = this.store.sandbox(id);
    return row && row.state !== 'creating' && row.state !== 'pooled' ? publicSandbox(row) : undefined;
  }

  list(): SandboxInfo[] {
    return this.store
      .sandboxes()
      .filter((r) => r.state === 'running' || r.state === 'paused')
      .map(publicSandbox);
  }

  async exec(sandboxId: string, options: ExecOptions): Promise<ExecResult> {
    const row = this.running(sandboxId, ['running'], options.onAccepted);
    return this.agents.exec(sandboxId, this.configs.apply(row, options));
  }

  async startProcess(sandboxId: string, options: ProcessOptions): Promise<ProcessHandle> {
    const row = this.running(sandboxId, ['running'], options.onAccepted);
    return this.agents.startProcess(sandboxId, this.configs.apply(row, options));
  }

  async listProcesses(sandboxId: string): Promise<ProcessInfo[]> {
    this.running(sandboxId);
    return this.agents.listProcesses(sandboxId);
  }

  getProcess(sandboxId: string, pid: number): ProcessHandle | undefined {
    return this.agents.processes.get(sandboxId, pid);
  }
  async signalProcess(sandboxId: string, pid: number, signal: number): Promise<void> {
    this.running(sandboxId);
    await this.agents.signalProcess(sandboxId, pid, signal);
  }

  async connectPort(sandboxId: string, port: number, acceptance?: Acceptance): Promise<Duplex> {
    this.running(sandboxId, ['running'], acceptance?.onAccepted);
    return this.agents.connectPort(sandboxId, port);
  }

  async runCode(sandboxId: string, options: RunCodeOptions): Promise<RunCodeOutcome> {
    this.running(sandboxId, ['running'], options.onAccepted);
    return this.agents.runCode(sandboxId, options);
  }

  async pause(sandboxId: string): Promise<void> {
    const row = this.running(sandboxId, ['running', 'paused']);
    if (row.state === 'paused') return;
    await this.driver.freeze(row);
    this.store.setState(sandboxId, 'paused');
  }

  async resume(sandboxId: string): Promise<void> {
    const row = this.running(sandboxId, ['running', 'paused']);
    if (row.state === 'running') return;
    await this.driver.thaw(row);
    this.store.setState(sandboxId, 'running');
  }

  async setDeadline(sandboxId: string, deadline: Date | null): Promise<void> {
    this.running(sandboxId, ['running', 'paused']);
    this.store.setDeadline(sandboxId, deadline ? deadline.getTime() : null);
    this.deadlines.rearm();
  }

  getDeadline(sandboxId: string): Date | null {
    const ms = this.store.deadline(sandboxId);
    return ms === null ? null : new Date(ms);
  }

  async fork(sandboxId: string, options: ForkOptions): Promise<ForkOutcome> {
    this.assertOpen();
    const started = performance.now();
    const parent = this.running(sandboxId, ['running'], options.onAccepted);
    this.driver.admit('fork');
    return forkSandbox(
      { store: this.store, driver: this.driver, agents: this.agents, teardown: (row) => this.teardown(row) },
      parent,
      options,
      started,
    );
  }

  async usage(sandboxId: string): Promise<SandboxUsage> {
    const row = this.running(sandboxId, ['running', 'paused']);
    return { sandboxId, ...(await this.driver.usage(row)), egressBytes: await egressBytesOf(this.driver, sandboxId) };
  }
  // The effective posture and its live change (core/network.ts).
  getNetwork = (id: string) => effectivePosture(this.driver, this.store, this.running(id, ['running', 'paused']));
  setNetwork = (id: string, p: NetworkPosture) => changePosture(this.driver, this.store, this.running(id), p);

  terminate(sandboxId: string, reason: EndReason = 'terminated'): Promise<boolean> {
    return this.endings.end(sandboxId, reason);
  }

  onSandboxEnding = (hook: (sandboxId: string, reason: EndReason) => Promise<void>) => this.endings.on(hook);

  private async endNow(sandboxId: string): Promise<boolean> {
    const row = this.store.sandbox(sandboxId);
    if (!row || row.state === 'creating' || row.state === 'pooled') return false;
    this.store.setState(sandboxId, 'terminating');
    await this.teardown(row);
    return true;
  }

  /** Undo everything a sandbox did to the host, whatever state it got to. Idempotent. */
  protected async teardown(row: SandboxRow): Promise<void> {
    await this.driver.teardown(row);
    this.agents.forget(row.id);
    const existed = this.store.sandbox(row.id) !== undefined;
    const hadDeadline = this.store.deadline(row.id) !== null;
    this.store.deleteSandbox(row.id);
    if (hadDeadline) this.deadlines.rearm();
    if (existed) this.events.emit('gone', row.id);
  }

  onSandboxGone(listener: (sandboxId: string) => void): () => void {
    this.events.on('gone', listener);
    return () => this.events.off('gone', listener);
  }

  /** Terminate every pooled sandbox (tests and `mitos serve --drain-pool`). */
  drainPool(): Promise<void> {
    return this.pool.drain();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.settle();
    this.deadlines.stop();
    this.agents.releaseAll();
    // Sandboxes that cannot be reattached by a later engine end now rather than leak.
    if (!this.driver.survivesRestart) {
      for (const row of this.store.sandboxes()) await this.teardown(row).catch(() => {});
    }
    await this.driver.close();
    if (this.options.ownsDb) this.db.close();
  }

  protected assertOpen(): void {
    if (this.closed) throw new MitosError('internal', 'the engine is closed');
  }

  /** The row of a sandbox that exists for callers and is in one of `allowed` states (Acceptance). */
  protected running(id: string, allowed: SandboxRow['state'][] = ['running'], accepted?: Acceptance['onAccepted']) {
    const row = this.store.sandbox(id);
    if (!row || row.state === 'creating' || row.state === 'terminating' || row.state === 'pooled') {
      throw new MitosError('not_found', `sandbox "${id}" not found`);
    }
    if (!allowed.includes(row.state)) {
      throw new MitosError('sandbox_not_running', `sandbox "${id}" is ${row.state}`, { sandbox: id, state: row.state });
    }
    accepted?.(publicSandbox(row));
    return row;
  }
}
