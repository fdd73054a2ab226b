/**
 * The Linux engine driver: each sandbox is a set of fresh namespaces (user, pid, mount, uts,
 * ipc, net, cgroup) around a copy-on-write root, with cgroup limits, whose pid 1 is our static
 * agent. Lifecycle: creating -> running -> terminating -> (row deleted). State lives in SQLite
 * so a restarted server reattaches running sandboxes and reaps anything half-made.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { chmodSync, cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { isValidId, MitosError, newSandboxId } from '@mitos/protocol';
import type {
  CreateSandboxOptions,
  CreateTemplateOptions,
  Engine,
  ExecOptions,
  ExecResult,
  FileStat,
  ForkOptions,
  ForkOutcome,
  ProcessHandle,
  ProcessInfo,
  ProcessOptions,
  ResourceLimits,
  RunCodeOptions,
  RunCodeOutcome,
  SandboxFiles,
  SandboxInfo,
  SandboxUsage,
  TemplateInfo,
} from '../../engine.js';
import { cgroupParentFor } from '../../host/cgroup-parent.js';
import { assertHeadroom } from '../../host/space.js';
import { DEFAULT_UID_BASE, UID_RANGE_SIZE } from '../../host/uid-range.js';
import { UidRanges } from '../../host/uid-ranges.js';
import { openDatabase, type StateDatabase } from '../../state/database.js';
import { type SandboxRow, StateStore, type TemplateRow } from '../../state/store.js';
import { enableSimpleQuotas } from '../../storage/disk-quota.js';
import { openStorage } from '../../storage/index.js';
import type { RootLayout, SandboxStorage } from '../../storage/storage.js';
import { buildImage } from '../../templates/builder.js';
import { type ImageSpec, imageKey, resolveImage } from '../../templates/images.js';
import { AgentClient } from './agent-client.js';
import type { CgroupManager, SandboxCgroup } from './cgroup.js';
import { detectCgroups } from './cgroups.js';
import { DeadlineScheduler } from './deadlines.js';
import { KERNEL_STATE_FILE, KERNELS_IN_SANDBOX, KernelManager, normalizeLanguage } from './kernels.js';
import { agentSnapshots, isSameProcess, launchSandbox, shmBytesFor } from './launcher.js';
import { processMemory } from './memory.js';
import { listProcessesWithTracking, ProcessRegistry, startTrackedProcess, type TrackedProcess } from './processes.js';
import { transpileTypeScript } from './typescript.js';

export interface LinuxEngineOptions {
  stateDir: string;
  /** Template build cache, shared across state dirs. Default $MITOS_CACHE_DIR or /var/cache/mitos. */
  cacheDir?: string;
  uidBase?: number;
  /** Name of the parent cgroup under each controller. */
  cgroupParent?: string;
  storage?: 'btrfs' | 'overlay';
  /** Path of the mitos-agent binary. Default $MITOS_AGENT_PATH or the one built in packages/agent. */
  agentPath?: string;
  /** Share a database with the server; default opens `<stateDir>/mitos.db`. */
  db?: StateDatabase;
  mirror?: string;
  /**
   * Warm, already-launched sandboxes kept per template so a create only renames one (a few
   * ms) instead of snapshotting and launching (tens of ms). 0 disables. Each idle pooled
   * sandbox costs what an idle sandbox costs (see BENCHMARKS.md).
   */
  warmPoolSize?: number;
  /**
   * Templates whose sandboxes run without the default seccomp filter (each launch is logged
   * as a warning). Only for workloads that need io_uring, perf or the like.
   */
  seccompOptOut?: string[];
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

// sockaddr_un.sun_path holds 108 bytes including the NUL.
const MAX_SOCKET_PATH = 107;

/** Pause before a pool refill starts (see refillPool). */
const POOL_REFILL_DELAY_MS = 150;

/** Most children one fork may make. */
export const MAX_FORK_COUNT = 64;

function defaultKernelsDir(): string {
  if (process.env.MITOS_KERNELS_DIR) return process.env.MITOS_KERNELS_DIR;
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../../../agent/kernels');
}

export function defaultAgentPath(): string {
  if (process.env.MITOS_AGENT_PATH) return process.env.MITOS_AGENT_PATH;
  const here = dirname(fileURLToPath(import.meta.url));
  return resolve(here, '../../../../agent/build/mitos-agent');
}

export class LinuxEngine implements Engine {
  readonly name = 'linux';
  readonly files: SandboxFiles;
  private readonly store: StateStore;
  private readonly clients = new Map<string, AgentClient>();
  private readonly cgroupHandles = new Map<string, SandboxCgroup>();
  private readonly imageBuilds = new Map<string, Promise<void>>();
  private readonly processes = new ProcessRegistry();
  private readonly kernels: KernelManager;
  private readonly deadlines: DeadlineScheduler;
  private readonly events = new EventEmitter();
  private readonly refills = new Map<string, Promise<void>>();
  private readonly uidRanges: UidRanges;
  private closed = false;

  private constructor(
    private readonly opts: Required<Pick<LinuxEngineOptions, 'stateDir' | 'cacheDir' | 'uidBase' | 'agentPath'>> &
      LinuxEngineOptions,
    readonly db: StateDatabase,
    private readonly ownsDb: boolean,
    readonly storage: SandboxStorage,
    readonly cgroups: CgroupManager,
  ) {
    this.store = new StateStore(db);
    this.uidRanges = new UidRanges({ db, stateDir: opts.stateDir });
    this.files = this.makeFiles();
    this.kernels = new KernelManager({
      client: (id) => this.client(id),
      startKernelProcess: async (id, command, env) => {
        const p = (await this.startProcess(id, { command, env, timeoutMs: 0 })) as TrackedProcess;
        let err = '';
        p.subscribe({ onStderr: (d) => (err += d.toString()) });
        return { pid: p.pid, exited: () => p.exited, stderr: () => err };
      },
    });
    this.deadlines = new DeadlineScheduler({
      deadlines: () => this.store.deadlines(),
      expire: async (id) => {
        this.log('info', 'sandbox deadline reached; terminating', { sandbox: id });
        await this.terminate(id);
      },
    });
    this.events.setMaxListeners(0);
  }

  static async open(options: LinuxEngineOptions): Promise<LinuxEngine> {
    const stateDir = resolve(options.stateDir);
    const opts = {
      ...options,
      stateDir,
      cacheDir: options.cacheDir ?? process.env.MITOS_CACHE_DIR ?? '/var/cache/mitos',
      uidBase: options.uidBase ?? DEFAULT_UID_BASE,
      agentPath: options.agentPath ?? defaultAgentPath(),
    };
    if (!existsSync(opts.agentPath)) {
      throw new MitosError(
        'host_unsupported',
        `mitos-agent binary not found at ${opts.agentPath}`,
        {},
        {
          remediation: 'run `npm run build` (it compiles packages/agent with cc), or set MITOS_AGENT_PATH',
        },
      );
    }
    // Root only: sandbox roots are built by the launcher as host root (see the agent's
    // launch-root.c), so neither sandbox uids nor other host users need to enter it.
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    chmodSync(stateDir, 0o700);
    for (const sub of ['run', 'logs']) mkdirSync(join(stateDir, sub), { recursive: true, mode: 0o700 });
    if (join(stateDir, 'run', `${'x'.repeat(64)}.sock`).length > MAX_SOCKET_PATH) {
      throw new MitosError(
        'host_unsupported',
        `state directory path is too long for unix sockets: ${stateDir}`,
        {},
        {
          remediation: 'use a state directory path shorter than 30 characters (e.g. /var/lib/mitos)',
        },
      );
    }
    const ownsDb = !options.db;
    const db = options.db ?? openDatabase(join(stateDir, 'mitos.db'));
    const storage = await openStorage({
      stateDir,
      prefer: options.storage,
      uidBase: opts.uidBase,
      btrfsSnapshotter: (source, targets) => agentSnapshots(opts.agentPath, source, targets),
      btrfsSimpleQuotas: (mountPoint) => enableSimpleQuotas(opts.agentPath, mountPoint),
    });
    const cgroups = detectCgroups({
      parent: cgroupParentFor(stateDir, options.cgroupParent ?? process.env.MITOS_CGROUP_PARENT),
    });
    // Kernels are copied into the state directory, which the sandbox uid can traverse, and
    // bind-mounted read-only into every sandbox.
    cpSync(defaultKernelsDir(), join(stateDir, 'kernels'), { recursive: true });
    chmodSync(join(stateDir, 'kernels'), 0o755);
    const engine = new LinuxEngine(opts, db, ownsDb, storage, cgroups);
    await engine.recover();
    engine.deadlines.rearm();
    return engine;
  }

  private log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void {
    this.opts.log?.(level, msg, fields);
  }

  private socketPath(id: string): string {
    return join(this.opts.stateDir, 'run', `${id}.sock`);
  }

  /** Reattach sandboxes whose init is still alive; reap every half-made or dead one. */
  private async recover(): Promise<void> {
    const known = new Set<string>();
    for (const row of this.store.sandboxes()) {
      known.add(row.id);
      const alive =
        (row.state === 'running' || row.state === 'paused' || row.state === 'pooled') &&
        row.initPid !== null &&
        row.initStartTicks !== null &&
        isSameProcess(row.initPid, row.initStartTicks);
      if (alive && row.state === 'paused') continue; // frozen: it cannot answer a ping
      if (alive) {
        try {
          // A server killed while a fork had the parent frozen for its snapshot leaves it
          // frozen: the ping below would then wait forever, and the server never start.
          await this.cgroups.open(row.id)?.thaw();
          await this.client(row.id).ping();
          this.log('info', 'reattached sandbox', { sandbox: row.id, pid: row.initPid });
          continue;
        } catch {
          // an init that no longer answers is reaped below
        }
      }
      this.log('warn', 'reaping sandbox left behind', { sandbox: row.id, state: row.state });
      await this.teardown(row);
    }
    // Only what this server's own database knows is touched: cgroups it does not know may
    // belong to another server on the host (teardown above already reaped its own).
    for (const id of this.storage.listRoots()) {
      if (!known.has(id)) await this.storage.removeRoot(id).catch(() => {});
    }
    this.uidRanges.reconcile(new Set(this.store.sandboxes().map((r) => r.id)));
  }

  listTemplates(): TemplateInfo[] {
    return this.store.templates().map(publicTemplate);
  }

  getTemplate(id: string): TemplateInfo | undefined {
    const t = this.store.template(id);
    return t ? publicTemplate(t) : undefined;
  }

  async ensureTemplate(options: CreateTemplateOptions): Promise<TemplateInfo> {
    if (!isValidId(options.id)) {
      throw new MitosError(
        'invalid_request',
        `invalid template id ${JSON.stringify(options.id)}`,
        {},
        {
          remediation: 'use 1-64 characters: letters, digits, _ and -, starting with a letter or digit',
        },
      );
    }
    const started = performance.now();
    const image = resolveImage(options.id);
    const key = imageKey(image, this.opts.uidBase);
    await this.ensureImage(image, key, options.onProgress);
    const existing = this.store.template(options.id);
    const row: TemplateRow = {
      id: options.id,
      image: image.name,
      imageKey: key,
      ready: true,
      createdAt: existing && existing.imageKey === key ? existing.createdAt : new Date(),
      creationTimeMs: existing && existing.imageKey === key ? existing.creationTimeMs : performance.now() - started,
      network: { egress: options.network?.egress ?? 'deny', inbound: options.network?.inbound ?? 'deny' },
      limits: image.limits,
    };
    this.store.upsertTemplate(row);
    this.refillPool(row.id);
    return publicTemplate(row);
  }

  /** Build (or take from cache) and import an image; concurrent callers share one build. */
  private ensureImage(image: ImageSpec, key: string, onProgress?: (line: string) => void): Promise<void> {
    if (this.storage.hasImage(key)) return Promise.resolve();
    let pending = this.imageBuilds.get(key);
    if (!pending) {
      pending = (async () => {
        const dir = await buildImage(image, {
          cacheDir: this.opts.cacheDir,
          uidBase: this.opts.uidBase,
          mirror: this.opts.mirror,
          onProgress: (line) => {
            onProgress?.(line);
            this.log('info', 'template build', { image: image.name, line });
          },
        });
        await this.storage.importImage(key, dir);
      })().finally(() => this.imageBuilds.delete(key));
      this.imageBuilds.set(key, pending);
    }
    return pending;
  }

  async create(options: CreateSandboxOptions): Promise<SandboxInfo> {
    this.assertOpen();
    const started = performance.now();
    const { id } = options;
    if (!isValidId(id)) {
      throw new MitosError(
        'invalid_request',
        `invalid sandbox id ${JSON.stringify(id)}`,
        {},
        {
          remediation: 'use 1-64 characters: letters, digits, _ and -, starting with a letter or digit',
        },
      );
    }
    const template = this.store.template(options.templateId);
    if (!template) throw new MitosError('not_found', `template "${options.templateId}" not found`);
    const limits: ResourceLimits = { ...template.limits, ...definedOnly(options.limits ?? {}) };
    this.checkDiskLimit(limits);
    assertHeadroom(this.opts.stateDir, 'create a sandbox');
    if (this.store.sandbox(id)) {
      throw new MitosError(
        'conflict',
        `sandbox "${id}" already exists`,
        { sandbox: id },
        {
          remediation: 'choose another id, or terminate the existing sandbox first',
        },
      );
    }
    // A pooled sandbox's /dev/shm was sized for the template's memory limit: a smaller limit
    // needs a fresh launch.
    const pooled =
      this.poolEnabled() && limits.memoryBytes >= template.limits.memoryBytes
        ? await this.takeLivePooled(template.id, id)
        : undefined;
    if (pooled) return this.adoptPooled(pooled, id, limits, started);
    const row = blankRow(id, template.id, limits);
    if (!this.store.reserveSandbox(row)) {
      throw new MitosError(
        'conflict',
        `sandbox "${id}" already exists`,
        { sandbox: id },
        {
          remediation: 'choose another id, or terminate the existing sandbox first',
        },
      );
    }
    try {
      const cgroup = await this.cgroups.create(id, limits);
      this.cgroupHandles.set(id, cgroup);
      const root = await this.storage.createRoot(id, template.imageKey);
      await this.applyDiskLimit(id, limits);
      const launched = await this.launch(row, root, cgroup);
      const forkTimeMs = performance.now() - started;
      this.store.markRunning(id, { ...launched, forkTimeMs });
      return publicSandbox({ ...row, ...launched, state: 'running', forkTimeMs });
    } catch (err) {
      await this.teardown({ ...row }).catch((e) =>
        this.log('error', 'cleanup after failed create', { sandbox: id, error: String(e) }),
      );
      throw err;
    }
  }

  /** Refuse a disk limit the storage cannot enforce before anything is made. */
  private checkDiskLimit(limits: ResourceLimits): void {
    const bytes = limits.diskBytes ?? 0;
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new MitosError('invalid_request', `invalid resource limits: diskBytes=${bytes}`);
    }
    if (bytes > 0 && typeof this.storage.limitDisk !== 'function') {
      throw new MitosError(
        'host_unsupported',
        `the ${this.storage.kind} storage cannot limit disk use per sandbox`,
        {},
        { remediation: 'create the sandbox without a disk limit, or use btrfs storage on Linux 6.7 or later' },
      );
    }
  }

  private async applyDiskLimit(id: string, limits: ResourceLimits): Promise<void> {
    if ((limits.diskBytes ?? 0) > 0) await this.storage.limitDisk?.(id, limits.diskBytes as number);
  }

  private poolEnabled(): boolean {
    return (this.opts.warmPoolSize ?? 0) > 0 && typeof this.storage.renameRoot === 'function' && !this.closed;
  }

  /**
   * A pooled sandbox whose init died (killed from the host, OOM) would fail its adoption: it
   * is reaped and the next one tried, so a create falls back to a fresh launch instead.
   */
  private async takeLivePooled(templateId: string, id: string): Promise<SandboxRow | undefined> {
    for (;;) {
      const pooled = this.store.takePooled(templateId, id);
      if (!pooled) return undefined;
      // The init's identity, not a ping: a ping forks an agent worker on the hand-out path.
      const alive =
        pooled.initPid !== null &&
        pooled.initStartTicks !== null &&
        isSameProcess(pooled.initPid, pooled.initStartTicks);
      if (alive) return pooled;
      this.log('warn', 'pooled sandbox is dead; reaping it', { sandbox: pooled.id });
      this.store.deleteSandbox(id);
      await this.teardown(pooled).catch(() => {});
    }
  }

  /** Give a pooled sandbox its user's id: rename its root, cgroup, socket and log; new hostname. */
  private async adoptPooled(
    pooled: SandboxRow,
    id: string,
    limits: ResourceLimits,
    started: number,
  ): Promise<SandboxInfo> {
    const row: SandboxRow = { ...pooled, id, hostname: id, limits, createdAt: new Date() };
    try {
      this.storage.renameRoot?.(pooled.id, id);
      this.uidRanges.rename(pooled.id, id);
      this.cgroupHandles.delete(pooled.id);
      const cgroup = this.cgroups.rename(pooled.id, id);
      this.cgroupHandles.set(id, cgroup);
      renameSync(this.socketPath(pooled.id), this.socketPath(id));
      renameSync(join(this.opts.stateDir, 'logs', `${pooled.id}.log`), join(this.opts.stateDir, 'logs', `${id}.log`));
      this.clients.delete(pooled.id);
      if (JSON.stringify(limits) !== JSON.stringify(pooled.limits)) await cgroup.setLimits(limits);
      await this.applyDiskLimit(id, limits);
      await this.client(id).setIdentity(id, randomBytes(64));
      const forkTimeMs = performance.now() - started;
      this.store.markRunning(id, {
        initPid: pooled.initPid as number,
        initStartTicks: pooled.initStartTicks as string,
        supervisorPid: pooled.supervisorPid,
        forkTimeMs,
      });
      this.refillPool(pooled.templateId);
      return publicSandbox({ ...row, state: 'running', forkTimeMs });
    } catch (err) {
      await this.teardown(row).catch(() => {});
      throw err;
    }
  }

  /**
   * Top up the pool of a template in the background, one sandbox at a time. It starts after a
   * short pause: a client that just created a sandbox usually runs a command in it next, and
   * that command should not queue behind a snapshot and a launch for the pool.
   */
  private refillPool(templateId: string): void {
    if (!this.poolEnabled() || this.refills.has(templateId)) return;
    const work = (async () => {
      await new Promise((r) => setTimeout(r, POOL_REFILL_DELAY_MS));
      while (this.poolEnabled() && this.store.pooledCount(templateId) < (this.opts.warmPoolSize ?? 0)) {
        const template = this.store.template(templateId);
        if (!template) return;
        const row = blankRow(`pool-${randomBytes(6).toString('hex')}`, templateId, template.limits);
        if (!this.store.reserveSandbox(row)) continue;
        try {
          assertHeadroom(this.opts.stateDir, 'launch a pooled sandbox');
          const cgroup = await this.cgroups.create(row.id, row.limits);
          this.cgroupHandles.set(row.id, cgroup);
          const root = await this.storage.createRoot(row.id, template.imageKey);
          const launched = await this.launch(row, root, cgroup);
          this.store.markRunning(row.id, { ...launched, forkTimeMs: 0 });
          this.store.setState(row.id, 'pooled');
        } catch (err) {
          this.log('warn', 'warm pool refill failed', { template: templateId, error: String(err) });
          await this.teardown(row).catch(() => {});
          return;
        }
      }
    })().finally(() => this.refills.delete(templateId));
    this.refills.set(templateId, work);
  }

  /** Terminate every pooled sandbox (tests and `mitos serve --drain-pool`). */
  async drainPool(): Promise<void> {
    await Promise.allSettled([...this.refills.values()]);
    for (const row of this.store.sandboxes()) if (row.state === 'pooled') await this.teardown(row);
  }

  private launch(row: SandboxRow, root: RootLayout, cgroup: SandboxCgroup) {
    const seccomp = !this.opts.seccompOptOut?.includes(row.templateId);
    if (!seccomp) this.log('warn', 'sandbox runs without seccomp filter (template opted out)', { sandbox: row.id });
    return launchSandbox({
      agentPath: this.opts.agentPath,
      sandboxId: row.id,
      hostname: row.hostname,
      socketPath: this.socketPath(row.id),
      logPath: join(this.opts.stateDir, 'logs', `${row.id}.log`),
      // Overlay roots are not idmapped (yet): their sandboxes keep the shared on-disk range.
      uidBase: root.kind === 'overlay' ? this.opts.uidBase : this.uidRanges.allocate(row.id),
      diskBase: this.opts.uidBase,
      uidCount: UID_RANGE_SIZE,
      seccomp,
      root,
      cgroupProcsFiles: cgroup.procsFiles,
      bindReadOnly: [`${join(this.opts.stateDir, 'kernels')}:${KERNELS_IN_SANDBOX}`],
      shmBytes: shmBytesFor(row.limits.memoryBytes),
    });
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
    this.running(sandboxId);
    return this.client(sandboxId).exec(
      { command: options.command, cwd: options.cwd, env: options.env, timeoutMs: options.timeoutMs },
      { onStdout: options.onStdout, onStderr: options.onStderr, signal: options.signal },
    );
  }

  async terminate(sandboxId: string): Promise<boolean> {
    const row = this.store.sandbox(sandboxId);
    if (!row || row.state === 'creating' || row.state === 'pooled') return false;
    this.store.setState(sandboxId, 'terminating');
    await this.teardown(row);
    return true;
  }

  /** Undo everything a sandbox did to the host, whatever state it got to. Idempotent. */
  private async teardown(row: SandboxRow): Promise<void> {
    const id = row.id;
    if (row.initPid !== null && row.initStartTicks !== null && isSameProcess(row.initPid, row.initStartTicks)) {
      // SIGKILL to a pid namespace's init kills every process in the namespace.
      try {
        process.kill(row.initPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    const cgroup = this.cgroupHandles.get(id) ?? this.cgroups.open(id);
    await cgroup?.destroy();
    this.cgroupHandles.delete(id);
    await this.storage.removeRoot(id);
    // Processes gone (cgroup destroyed) and root removed: the range may serve another sandbox.
    this.uidRanges.release(id);
    rmSync(this.socketPath(id), { force: true });
    this.clients.delete(id);
    this.processes.forget(id);
    this.kernels.forget(id);
    const hadDeadline = this.store.deadline(id) !== null;
    this.store.deleteSandbox(id);
    if (hadDeadline) this.deadlines.rearm();
    this.events.emit('gone', id);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.refills.values()]);
    this.deadlines.stop();
    this.processes.releaseAll();
    if (this.ownsDb) this.db.close();
  }

  onSandboxGone(listener: (sandboxId: string) => void): () => void {
    this.events.on('gone', listener);
    return () => this.events.off('gone', listener);
  }

  async startProcess(sandboxId: string, options: ProcessOptions): Promise<ProcessHandle> {
    this.running(sandboxId);
    return startTrackedProcess(this.client(sandboxId), this.processes, sandboxId, options);
  }

  async listProcesses(sandboxId: string): Promise<ProcessInfo[]> {
    this.running(sandboxId);
    return listProcessesWithTracking(this.client(sandboxId), this.processes, sandboxId);
  }

  getProcess(sandboxId: string, pid: number): ProcessHandle | undefined {
    return this.processes.get(sandboxId, pid);
  }

  async signalProcess(sandboxId: string, pid: number, signal: number): Promise<void> {
    this.running(sandboxId);
    await this.client(sandboxId).signal(pid, signal);
  }

  async pause(sandboxId: string): Promise<void> {
    const row = this.running(sandboxId, ['running', 'paused']);
    if (row.state === 'paused') return;
    await this.cgroup(sandboxId).freeze();
    this.store.setState(sandboxId, 'paused');
  }

  async resume(sandboxId: string): Promise<void> {
    const row = this.running(sandboxId, ['running', 'paused']);
    if (row.state === 'running') return;
    await this.cgroup(sandboxId).thaw();
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

  async connectPort(sandboxId: string, port: number): Promise<Duplex> {
    this.running(sandboxId);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new MitosError('invalid_request', `port must be 1..65535, got ${port}`);
    }
    return this.client(sandboxId).connectTcp(port);
  }

  async runCode(sandboxId: string, options: RunCodeOptions): Promise<RunCodeOutcome> {
    this.running(sandboxId);
    const language = normalizeLanguage(options.language);
    if (!language) {
      throw new MitosError(
        'kernel_unavailable',
        `unsupported language ${JSON.stringify(options.language)}`,
        { sandbox: sandboxId },
        {
          remediation: 'use python, javascript or typescript',
        },
      );
    }
    if (language === 'typescript') {
      const code = transpileTypeScript(options.code);
      return this.kernels.run(sandboxId, 'javascript', code, options);
    }
    return this.kernels.run(sandboxId, language, options.code, options);
  }

  async fork(sandboxId: string, options: ForkOptions): Promise<ForkOutcome> {
    this.assertOpen();
    const started = performance.now();
    const parent = this.running(sandboxId);
    assertHeadroom(this.opts.stateDir, 'fork a sandbox');
    const count = options.ids?.length ?? options.count;
    if (!Number.isInteger(count) || count < 1 || count > MAX_FORK_COUNT) {
      throw new MitosError('invalid_request', `fork count must be 1..${MAX_FORK_COUNT}, got ${count}`);
    }
    if (options.ids && options.ids.length !== options.count) {
      throw new MitosError('invalid_request', `got ${options.ids.length} child ids for a fork of ${options.count}`);
    }
    const ids = options.ids ?? Array.from({ length: count }, () => newSandboxId());
    if (new Set(ids).size !== ids.length || !ids.every(isValidId)) {
      throw new MitosError('invalid_request', 'child ids must be unique valid ids');
    }
    // Interpreter state is written into the parent's filesystem first, so the snapshot has it.
    const kernel = await this.kernels.snapshot(sandboxId).catch(() => undefined);
    const rows: SandboxRow[] = [];
    try {
      for (const id of ids) {
        const row: SandboxRow = {
          ...blankRow(id, parent.templateId, parent.limits),
          parentId: parent.id,
          generation: parent.generation + 1,
        };
        if (!this.store.reserveSandbox(row)) {
          throw new MitosError('conflict', `sandbox "${id}" already exists`, { sandbox: id });
        }
        rows.push(row);
      }
      const parentCgroup = this.cgroup(sandboxId);
      const roots: RootLayout[] = [];
      // Frozen, the parent's files are one consistent instant for every child.
      const freeze = options.pauseSource !== false;
      if (freeze) await parentCgroup.freeze();
      try {
        roots.push(...(await this.storage.snapshotRoots(sandboxId, ids)));
      } finally {
        if (freeze) await parentCgroup.thaw();
      }
      if (kernel)
        void this.client(sandboxId)
          .remove(KERNEL_STATE_FILE)
          .catch(() => {});
      const children = await Promise.all(
        rows.map(async (row, i) => {
          await this.applyDiskLimit(row.id, row.limits);
          const cgroup = await this.cgroups.create(row.id, row.limits);
          this.cgroupHandles.set(row.id, cgroup);
          const launched = await this.launch(row, roots[i] as RootLayout, cgroup);
          const forkTimeMs = performance.now() - started;
          this.store.markRunning(row.id, { ...launched, forkTimeMs });
          return publicSandbox({ ...row, ...launched, state: 'running', forkTimeMs });
        }),
      );
      return {
        parent: publicSandbox(this.store.sandbox(sandboxId) as SandboxRow),
        children,
        carried: {
          filesystem: true,
          interpreter: kernel !== undefined && kernel.saved.length + kernel.skipped.length > 0,
          interpreterSkipped: kernel?.skipped ?? [],
          processes: false,
        },
        forkTimeMs: performance.now() - started,
      };
    } catch (err) {
      for (const row of rows) {
        const current = this.store.sandbox(row.id);
        await this.teardown(current ?? row).catch(() => {});
      }
      throw err;
    }
  }

  async usage(sandboxId: string): Promise<SandboxUsage> {
    const row = this.running(sandboxId, ['running', 'paused']);
    const cgroup = this.cgroup(sandboxId);
    const pids = await cgroup.pids();
    if (row.supervisorPid) pids.push(row.supervisorPid);
    const mem = processMemory(pids);
    return {
      sandboxId,
      memory: { ...mem, cgroupBytes: await cgroup.memoryBytes() },
      disk: (await this.storage.usage(sandboxId)) ?? null,
      cpuNs: await cgroup.cpuUsageNs(),
    };
  }

  private cgroup(id: string): SandboxCgroup {
    const c = this.cgroupHandles.get(id) ?? this.cgroups.open(id);
    if (!c) throw new MitosError('internal', `the cgroup of sandbox "${id}" is missing`, { sandbox: id });
    this.cgroupHandles.set(id, c);
    return c;
  }

  private assertOpen(): void {
    if (this.closed) throw new MitosError('internal', 'the engine is closed');
  }

  private running(id: string, allowed: SandboxRow['state'][] = ['running']): SandboxRow {
    const row = this.store.sandbox(id);
    if (!row || row.state === 'creating' || row.state === 'terminating' || row.state === 'pooled') {
      throw new MitosError('not_found', `sandbox "${id}" not found`);
    }
    if (!allowed.includes(row.state)) {
      throw new MitosError('sandbox_not_running', `sandbox "${id}" is ${row.state}`, { sandbox: id, state: row.state });
    }
    return row;
  }

  private client(id: string): AgentClient {
    let c = this.clients.get(id);
    if (!c) {
      c = new AgentClient(this.socketPath(id), id);
      this.clients.set(id, c);
    }
    return c;
  }

  private makeFiles(): SandboxFiles {
    const on = (id: string) => {
      this.running(id);
      return this.client(id);
    };
    return {
      read: async (id, path) => on(id).readFile(path),
      write: async (id, path, data, mode) => {
        const client = on(id);
        assertHeadroom(this.opts.stateDir, 'write a file');
        return client.writeFile(path, data, mode);
      },
      list: async (id, path): Promise<FileStat[]> => on(id).list(path),
      stat: async (id, path) => on(id).stat(path),
      mkdir: async (id, path) => on(id).mkdir(path),
      remove: async (id, path) => on(id).remove(path),
    };
  }
}

function blankRow(id: string, templateId: string, limits: ResourceLimits): SandboxRow {
  return {
    id,
    templateId,
    state: 'creating',
    createdAt: new Date(),
    forkTimeMs: 0,
    hostname: id,
    limits,
    parentId: null,
    generation: 0,
    initPid: null,
    initStartTicks: null,
    supervisorPid: null,
  };
}

function definedOnly<T extends object>(o: Partial<T>): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function publicTemplate(t: TemplateRow): TemplateInfo {
  const { imageKey: _key, ...rest } = t;
  return rest;
}

function publicSandbox(r: SandboxRow): SandboxInfo {
  return {
    id: r.id,
    templateId: r.templateId,
    state: r.state,
    createdAt: r.createdAt,
    forkTimeMs: r.forkTimeMs,
    hostname: r.hostname,
    limits: r.limits,
    parentId: r.parentId,
    generation: r.generation,
  };
}
