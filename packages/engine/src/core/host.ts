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
import type { Duplex } from 'node:stream';
import { MitosError, type NetworkPosture } from '@mitos/protocol';
import type {
  Acceptance,
  CreateSandboxOptions,
  CreateTemplateOptions,
  DeadlineChange,
  EndAcceptance,
  EndReason,
  Engine,
  ExecOptions,
  ExecResult,
  ForkOptions,
  ForkOutcome,
  LifecycleOptions,
  ProcessHandle,
  ProcessInfo,
  ProcessOptions,
  RunCodeOptions,
  RunCodeOutcome,
  SandboxDetail,
  SandboxFiles,
  SandboxInfo,
  SandboxUsage,
  TemplateInfo,
} from '../engine.js';
import type { StateDatabase } from '../state/database.js';
import { type SandboxRow, StateStore } from '../state/store.js';
import type { BuiltImageCache } from '../templates/image-archive.js';
import { SandboxAgents } from './agents.js';
import { createSandbox, type HostParts, launchReserved } from './create.js';
import { DeadlineScheduler } from './deadlines.js';
import type { SandboxDriver } from './driver.js';
import { SandboxEndings } from './endings.js';
import { forkSandbox } from './fork.js';
import type { DriverFactory, HostOptions } from './host-options.js';
import { HostTemplates } from './host-templates.js';
import { KernelDemand, kernelLanguage, kernelWarming, prestartPooled } from './kernel-demand.js';
import { decideDeadline, liveRow } from './live-row.js';
import { changePosture, effectivePosture, egressBytesOf } from './network.js';
import { reattachOrReap } from './reattach.js';
import { SandboxRemoval } from './removal.js';
import { publicSandbox } from './rows.js';
import type { TemplateSpecs } from './template-specs.js';
import { WarmPool } from './warm-pool.js';

export type { DriverFactory, EngineLog, HostOptions } from './host-options.js';

export class SandboxHost<D extends SandboxDriver = SandboxDriver> implements Engine {
  readonly files: SandboxFiles;
  readonly db: StateDatabase;
  protected readonly driver: D;
  protected readonly store: StateStore;
  protected readonly agents: SandboxAgents;
  private readonly deadlines: DeadlineScheduler;
  private readonly endings: SandboxEndings;
  readonly pool: WarmPool;
  /** Which kernels each template's pooled sandboxes start ahead (run_code in recent use). */
  private readonly kernelDemand: KernelDemand;
  private readonly removal: SandboxRemoval;
  private closed = false;
  readonly templateBuilds: TemplateSpecs;
  private readonly templates: HostTemplates;
  /** What the host's parts (create, fork, the pool, reattach, builds) need of it. */
  private readonly parts: HostParts;

  constructor(
    makeDriver: DriverFactory<D>,
    private readonly options: HostOptions,
  ) {
    this.db = options.db;
    this.store = new StateStore(options.db);
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
    this.parts = {
      store: this.store,
      driver: this.driver,
      agents: this.agents,
      templateConfig: (id) => this.templates.configs.of(id),
      teardown: (row) => this.teardown(row),
      log: (level, msg, fields) => this.log(level, msg, fields),
    };
    this.removal = new SandboxRemoval({ ...this.parts, rearmDeadlines: () => this.deadlines.rearm() });
    this.files = this.agents.files(
      (id) => this.running(id),
      () => this.driver.admit('write'),
    );
    this.endings = new SandboxEndings({
      row: (id) => this.store.sandbox(id),
      resume: (id) => this.resume(id),
      end: (id, row, onTeardown) => this.removal.end(id, row, onTeardown),
      log: this.parts.log,
    });
    this.deadlines = new DeadlineScheduler({
      deadlines: () => this.store.deadlines(),
      expire: async (id) => {
        this.log('info', 'sandbox deadline reached; terminating', { sandbox: id });
        await this.endings.end(id, 'deadline');
      },
    });
    this.kernelDemand = new KernelDemand(
      kernelWarming(options.warmKernels),
      (templateId) => this.pool.refill(templateId),
      options.kernelIdleMs,
    );
    this.pool = new WarmPool(
      {
        ...this.parts,
        launchReserved: (row, template) =>
          launchReserved(this.parts, row, template, undefined, { kernels: this.kernelDemand.wanted(template.id) }),
        warmUp: (templateId) => prestartPooled(this.parts, templateId, this.kernelDemand.wanted(templateId)),
        isOpen: () => !this.closed,
      },
      options.warmPoolSize ?? 0,
      options.warmPoolIdleMs,
      options.warmPoolTemplates,
    );
    this.templates = new HostTemplates({ ...options, ...this.parts, pool: this.pool });
    this.templateBuilds = this.templates.builds;
  }

  get name(): string {
    return this.driver.name;
  }

  get builtImages(): BuiltImageCache | undefined {
    return this.driver.imageCache;
  }

  /** Reattach what a previous engine left running, reap the rest; then arm deadlines. */
  protected async start(): Promise<void> {
    await reattachOrReap(this.parts);
    this.pool.arm();
    this.deadlines.rearm();
  }

  protected log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void {
    this.options.log?.(level, msg, fields);
  }

  listTemplates = (): TemplateInfo[] => this.templates.list();
  getTemplate = (id: string): TemplateInfo | undefined => this.templates.get(id);
  ensureTemplate = (options: CreateTemplateOptions): Promise<TemplateInfo> => this.templates.ensure(options);

  create(options: CreateSandboxOptions): Promise<SandboxInfo> {
    this.assertOpen();
    return createSandbox(
      { ...this.parts, pool: this.pool, currentTemplate: (row) => this.templates.current(row) },
      options,
    );
  }

  get(id: string): SandboxInfo | undefined {
    const row = this.store.sandbox(id);
    return row && row.state !== 'creating' && row.state !== 'pooled' ? publicSandbox(row) : undefined;
  }

  describe(id: string): SandboxDetail | undefined {
    const row = this.store.sandbox(id);
    if (!row || row.state === 'creating' || row.state === 'pooled') return undefined;
    const live = row.state === 'running' || row.state === 'paused';
    const ms = row.deadlineMs ?? null;
    const network = live ? { network: effectivePosture(this.driver, this.store, row) } : {};
    return { ...publicSandbox(row), ...network, deadline: ms === null ? null : new Date(ms) };
  }

  list(): SandboxInfo[] {
    return this.store
      .sandboxes()
      .filter((r) => r.state === 'running' || r.state === 'paused')
      .map(publicSandbox);
  }

  async exec(sandboxId: string, options: ExecOptions): Promise<ExecResult> {
    const row = this.running(sandboxId, ['running'], options.onAccepted);
    return this.pool.duringCall(this.agents.exec(sandboxId, this.templates.configs.apply(row, options)));
  }

  async startProcess(sandboxId: string, options: ProcessOptions): Promise<ProcessHandle> {
    const row = this.running(sandboxId, ['running'], options.onAccepted);
    return this.agents.startProcess(sandboxId, this.templates.configs.apply(row, options));
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
    const row = this.running(sandboxId, ['running'], options.onAccepted);
    const outcome = await this.pool.duringCall(this.agents.runCode(sandboxId, options));
    // A cell its kernel ran (not a language without one) is a use of the template's default
    // kernel; a named context is a kernel of its own that no pool starts.
    const language = kernelLanguage(options.language);
    if (language && options.context === undefined) this.kernelDemand.used(row.templateId, language);
    return outcome;
  }

  pause = (id: string, options: LifecycleOptions = {}) =>
    this.moveTo(id, 'paused', options, (r) => this.driver.freeze(r));
  resume = (id: string, options: LifecycleOptions = {}) =>
    this.moveTo(id, 'running', options, (r) => this.driver.thaw(r));

  /** Pause or resume on one read: a no-op when already there; the deadline set after the move. */
  private async moveTo(
    sandboxId: string,
    state: 'paused' | 'running',
    options: LifecycleOptions,
    move: (row: SandboxRow) => Promise<void>,
  ): Promise<void> {
    const row = this.running(sandboxId, ['running', 'paused'], options.onAccepted);
    const deadline = decideDeadline(row, options.deadline);
    if (row.state !== state) {
      await move(row);
      this.store.setState(sandboxId, state);
    }
    this.writeDeadline(sandboxId, deadline);
  }

  async setDeadline(sandboxId: string, deadline: DeadlineChange): Promise<void> {
    this.writeDeadline(sandboxId, decideDeadline(this.running(sandboxId, ['running', 'paused']), deadline));
  }

  private writeDeadline(sandboxId: string, deadline: Date | null | undefined): void {
    if (deadline === undefined) return;
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
    return forkSandbox(this.parts, parent, options, started);
  }

  async usage(sandboxId: string, acceptance?: Acceptance): Promise<SandboxUsage> {
    const row = this.running(sandboxId, ['running', 'paused'], acceptance?.onAccepted);
    return { sandboxId, ...(await this.driver.usage(row)), egressBytes: await egressBytesOf(this.driver, sandboxId) };
  }
  // The effective posture and its live change (core/network.ts).
  getNetwork = (id: string) => effectivePosture(this.driver, this.store, this.running(id, ['running', 'paused']));
  setNetwork = (id: string, p: NetworkPosture) => changePosture(this.driver, this.store, this.running(id), p);

  terminate(sandboxId: string, reason: EndReason = 'terminated', acceptance?: EndAcceptance): Promise<boolean> {
    const before = acceptance?.beforeEnd;
    return this.endings.end(sandboxId, reason, before && ((row) => before(publicSandbox(row))), acceptance?.onTeardown);
  }

  onSandboxEnding = (hook: (sandboxId: string, reason: EndReason) => Promise<void>) => this.endings.on(hook);

  /** Undo everything a sandbox did to the host, whatever state it got to. Idempotent. */
  protected teardown(row: SandboxRow): Promise<void> {
    return this.removal.teardown(row);
  }

  onSandboxGone(listener: (sandboxId: string) => void): () => void {
    return this.removal.onGone(listener);
  }

  /** Terminate every pooled sandbox (tests and `mitos serve --drain-pool`). */
  drainPool(): Promise<void> {
    return this.pool.drain();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.pool.stop();
    await this.pool.settle();
    this.deadlines.stop();
    // Ends already under way (a terminate answered before its teardown finished) finish first.
    await this.endings.settle();
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
    return liveRow(this.store, id, allowed, accepted);
  }
}
