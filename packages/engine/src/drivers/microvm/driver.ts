/**
 * The microvm engine driver: each sandbox is a QEMU microVM (KVM where usable, TCG otherwise)
 * restored copy-on-write from a snapshot of its template, with the agent reached over one
 * virtio-serial port. Fork snapshots a running VM and restores the parent and every child
 * from that frozen snapshot (see fork.ts). README.md in this directory has the whole design.
 *
 * VMs do not survive an engine restart (their host channels are inherited socketpairs): on
 * open, anything a previous engine left on this state directory is reaped.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
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
import { DEFAULT_UID_BASE } from '../../host/uid-range.js';
import { openDatabase, type StateDatabase } from '../../state/database.js';
import { type SandboxRow, StateStore, type TemplateRow } from '../../state/store.js';
import { resolveImage } from '../../templates/images.js';
import { AgentClient } from '../linux/agent-client.js';
import type { CgroupManager } from '../linux/cgroup.js';
import { detectCgroups } from '../linux/cgroups.js';
import { DeadlineScheduler } from '../linux/deadlines.js';
import { KernelManager, normalizeLanguage } from '../linux/kernels.js';
import { isSameProcess, processStartTicks } from '../linux/launcher.js';
import { processMemory } from '../linux/memory.js';
import {
  listProcessesWithTracking,
  ProcessRegistry,
  startTrackedProcess,
  type TrackedProcess,
} from '../linux/processes.js';
import { transpileTypeScript } from '../linux/typescript.js';
import type { AcceleratorChoice } from './accel.js';
import { detectAccelerator } from './accel.js';
import { allocatedBytes } from './disks.js';
import { firecrackerBinary } from './firecracker.js';
import { type ForkTimings, forkVm, type LiveVm } from './fork.js';
import { DEFAULT_VM_ID_BASE, IdAllocator } from './ids.js';
import { MuxSession } from './mux.js';
import { defaultCodeKernelsDir, defaultGuestPath } from './paths.js';
import { RestorePool } from './pool.js';
import { ChannelProxy } from './proxy.js';
import { restoreInto } from './restore.js';
import { type Snapshot, SnapshotStore, shmDirFor } from './snapshots.js';
import { TemplateCatalog } from './templates.js';
import { tracer } from './trace.js';
import { hostLimits, VmFactory, type VmHandle } from './vm-factory.js';

export interface MicroVmEngineOptions {
  stateDir: string;
  /** Template, kernel and disk cache. Default $MITOS_CACHE_DIR or /var/cache/mitos. */
  cacheDir?: string;
  /** uid base the cached template trees are shifted by (shared with the container driver). */
  uidBase?: number;
  /** First host id of the range QEMU uids and snapshot gids come from. */
  vmIdBase?: number;
  cgroupParent?: string;
  db?: StateDatabase;
  mirror?: string;
  /** Pre-spawned restore targets kept per template snapshot (default 1; 0 disables). */
  poolSize?: number;
  guestPath?: string;
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

const MAX_FORK_COUNT = 64;

/** Per-sandbox state that lives only in this process. */
interface Live extends LiveVm {
  id: string;
  proxy: ChannelProxy;
}

export class MicroVmEngine implements Engine {
  readonly name = 'microvm';
  readonly files: SandboxFiles;
  private readonly store: StateStore;
  private readonly live = new Map<string, Live>();
  private readonly clients = new Map<string, AgentClient>();
  private readonly processes = new ProcessRegistry();
  private readonly kernels: KernelManager;
  private readonly deadlines: DeadlineScheduler;
  private readonly events = new EventEmitter();
  private readonly catalog: TemplateCatalog;
  private readonly pool: RestorePool<VmHandle & { limits: ResourceLimits }>;
  private readonly factory: VmFactory;
  private readonly snapshots: SnapshotStore;
  private closed = false;

  private constructor(
    private readonly opts: MicroVmEngineOptions & { cacheDir: string; uidBase: number; guestPath: string },
    readonly db: StateDatabase,
    private readonly ownsDb: boolean,
    cgroups: CgroupManager,
    ids: IdAllocator,
  ) {
    this.store = new StateStore(db);
    this.snapshots = new SnapshotStore(opts.stateDir, shmDirFor(opts.stateDir), ids);
    this.catalog = new TemplateCatalog({
      assets: {
        cacheDir: opts.cacheDir,
        uidBase: opts.uidBase,
        guestPath: opts.guestPath,
        codeKernelsDir: defaultCodeKernelsDir(),
        mirror: opts.mirror,
      },
      stateDir: opts.stateDir,
      factory: () => this.factory,
      snapshots: this.snapshots,
      onSnapshot: (snap) => this.pool.refill(snap.id),
      log: (msg, fields) => this.log('info', msg, fields),
    });
    this.factory = new VmFactory({
      stateDir: opts.stateDir,
      assets: () => {
        if (!this.catalog.ready) throw new Error('boot assets are not prepared');
        return this.catalog.ready;
      },
      ids,
      cgroups,
      snapshots: this.snapshots,
      guestPath: opts.guestPath,
    });
    this.pool = new RestorePool(
      opts.poolSize ?? 1,
      async (snapId) => {
        const snap = this.snapshots.list().find((s) => s.id === snapId);
        if (!snap) throw new Error(`snapshot ${snapId} is gone`);
        const limits = this.catalog.limitsOf(snapId) as ResourceLimits;
        return Object.assign(await this.factory.restoreTarget(snap, limits), { limits });
      },
      (h) => this.factory.destroy(h),
      (err) => this.log('warn', 'restore pool refill failed', { error: err.message }),
    );
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

  static async open(options: MicroVmEngineOptions): Promise<MicroVmEngine> {
    const stateDir = resolve(options.stateDir);
    const opts = {
      ...options,
      stateDir,
      cacheDir: options.cacheDir ?? process.env.MITOS_CACHE_DIR ?? '/var/cache/mitos',
      uidBase: options.uidBase ?? DEFAULT_UID_BASE,
      guestPath: options.guestPath ?? defaultGuestPath(),
    };
    mkdirSync(stateDir, { recursive: true });
    // QEMU runs as an unprivileged uid and must traverse to its own directory and snapshots.
    chmodSync(stateDir, statSync(stateDir).mode | 0o011);
    for (const sub of ['run', 'logs']) mkdirSync(join(stateDir, sub), { recursive: true, mode: 0o700 });
    const ownsDb = !options.db;
    const db = options.db ?? openDatabase(join(stateDir, 'mitos.db'));
    const cgroups = detectCgroups({
      parent: cgroupParentFor(stateDir, options.cgroupParent ?? process.env.MITOS_CGROUP_PARENT, 'mitos-vm'),
    });
    // Whatever a previous engine left here is unreachable now: reap it before making anything.
    await reapLeftovers(stateDir, db, cgroups);
    const engine = new MicroVmEngine(
      opts,
      db,
      ownsDb,
      cgroups,
      new IdAllocator(options.vmIdBase ?? DEFAULT_VM_ID_BASE),
    );
    const firecracker = firecrackerBinary();
    if (firecracker) {
      engine.log(
        'warn',
        'a firecracker binary is installed, but its adapter is a sketch (firecracker.ts): using QEMU',
        {
          firecracker,
        },
      );
    }
    engine.deadlines.rearm();
    return engine;
  }

  /** KVM or TCG and why (known once the guest kernel is cached; a host-only guess before). */
  get accelerator(): AcceleratorChoice {
    return this.catalog.ready?.accel ?? detectAccelerator();
  }

  private log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void {
    this.opts.log?.(level, msg, fields);
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
    const progress = (line: string) => options.onProgress?.(line);
    await this.catalog.assets(progress);
    const disk = await this.catalog.rootDisk(options.id, progress);
    const limits = image.limits;
    await this.catalog.snapshot(options.id, limits, progress);
    const existing = this.store.template(options.id);
    const same = existing && existing.imageKey === disk.key;
    const row: TemplateRow = {
      id: options.id,
      image: image.name,
      imageKey: disk.key,
      ready: true,
      createdAt: same ? existing.createdAt : new Date(),
      creationTimeMs: same ? existing.creationTimeMs : performance.now() - started,
      network: { egress: options.network?.egress ?? 'deny', inbound: options.network?.inbound ?? 'deny' },
      limits,
    };
    this.store.upsertTemplate(row);
    return publicTemplate(row);
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
    if ((limits.diskBytes ?? 0) > 0) {
      throw new MitosError(
        'host_unsupported',
        'the microvm engine cannot limit disk use per sandbox yet',
        {},
        {
          remediation: 'create the sandbox without diskBytes (a VM disk is a fixed 4 GiB filesystem)',
        },
      );
    }
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
    let handle: VmHandle | undefined;
    const trace = tracer('create');
    try {
      const snap = await this.catalog.snapshot(template.id, limits);
      const pooled = this.pool.take(snap.id);
      handle = pooled ?? (await this.factory.restoreTarget(snap, limits));
      trace(pooled ? 'pooled target' : 'target spawned');
      // A pooled target was made with the template's limits; this create may ask for others.
      if (pooled && JSON.stringify(pooled.limits) !== JSON.stringify(limits)) {
        await handle.cgroup.setLimits(hostLimits(limits, snap.memMiB));
      }
      const session = new MuxSession();
      await restoreInto(handle, snap, session, {
        mode: 'reset',
        hostname: id,
        token: randomBytes(24).toString('hex'),
        seed: randomBytes(64),
        pidsMax: limits.pids,
      });
      trace('restored and resumed');
      await this.adopt(id, handle, session, limits);
      const forkTimeMs = performance.now() - started;
      this.store.markRunning(id, {
        initPid: handle.vm.pid,
        initStartTicks: processStartTicks(handle.vm.pid) ?? '',
        supervisorPid: null,
        forkTimeMs,
      });
      return publicSandbox({ ...row, state: 'running', forkTimeMs });
    } catch (err) {
      if (handle && !this.live.has(id)) await this.factory.destroy(handle).catch(() => {});
      await this.teardown(id).catch(() => {});
      throw err instanceof MitosError
        ? err
        : new MitosError(
            'internal',
            `cannot create the VM: ${(err as Error).message}`,
            { sandbox: id },
            { cause: err },
          );
    }
  }

  /** Register a running VM as sandbox `id`: its proxy socket, crash watch, state. */
  private async adopt(id: string, handle: VmHandle, session: MuxSession, limits: ResourceLimits): Promise<Live> {
    const proxy = await ChannelProxy.listen(this.socketPath(id), session);
    const live: Live = { id, handle, session, proxy, limits, hostname: id };
    this.live.set(id, live);
    this.watch(live);
    return live;
  }

  /** A VM that dies on its own (OOM kill, crash) takes its sandbox with it. */
  private watch(live: Live): void {
    const handle = live.handle;
    void handle.vm.proc.exited.then(() => {
      if (this.live.get(live.id)?.handle !== handle || live.replacing) return;
      this.log('warn', 'sandbox VM exited unexpectedly', { sandbox: live.id, detail: handle.vm.proc.diagnostics() });
      void this.terminate(live.id).catch(() => {});
    });
  }

  private socketPath(id: string): string {
    return join(this.opts.stateDir, 'run', `${id}.sock`);
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
    if (!row || row.state === 'creating') return false;
    this.store.setState(sandboxId, 'terminating');
    await this.teardown(sandboxId);
    return true;
  }

  private async teardown(id: string): Promise<void> {
    const live = this.live.get(id);
    this.live.delete(id);
    if (live) {
      live.session.close();
      await live.proxy.close().catch(() => {});
      await this.factory
        .destroy(live.handle)
        .catch((e: Error) => this.log('error', 'VM teardown', { sandbox: id, error: e.message }));
    }
    rmSync(this.socketPath(id), { force: true });
    this.clients.delete(id);
    this.processes.forget(id);
    this.kernels.forget(id);
    const hadDeadline = this.store.deadline(id) !== null;
    const existed = this.store.sandbox(id) !== undefined;
    this.store.deleteSandbox(id);
    if (hadDeadline) this.deadlines.rearm();
    if (existed) this.events.emit('gone', id);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.deadlines.stop();
    this.processes.releaseAll();
    await this.pool.close();
    // VMs cannot be reattached by a later engine: end them now rather than leak them.
    for (const id of [...this.live.keys()]) await this.teardown(id).catch(() => {});
    await this.catalog.settle();
    this.snapshots.destroyAll();
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

  /** Stop the vCPUs (QMP stop): no guest CPU at all, memory and disk kept. */
  async pause(sandboxId: string): Promise<void> {
    const row = this.running(sandboxId, ['running', 'paused']);
    if (row.state === 'paused') return;
    await this.liveOf(sandboxId).handle.vm.stop();
    this.store.setState(sandboxId, 'paused');
  }

  async resume(sandboxId: string): Promise<void> {
    const row = this.running(sandboxId, ['running', 'paused']);
    if (row.state === 'running') return;
    await this.liveOf(sandboxId).handle.vm.cont();
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
    if (language === 'typescript')
      return this.kernels.run(sandboxId, 'javascript', transpileTypeScript(options.code), options);
    return this.kernels.run(sandboxId, language, options.code, options);
  }

  /** One fork of a sandbox at a time: each fences, stops and replaces the parent's process. */
  fork(sandboxId: string, options: ForkOptions): Promise<ForkOutcome> {
    const prev = this.forking.get(sandboxId) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(() => this.forkNow(sandboxId, options));
    const tail = next.catch(() => {});
    this.forking.set(sandboxId, tail);
    void tail.then(() => {
      if (this.forking.get(sandboxId) === tail) this.forking.delete(sandboxId);
    });
    return next;
  }

  private readonly forking = new Map<string, Promise<unknown>>();

  private async forkNow(sandboxId: string, options: ForkOptions): Promise<ForkOutcome> {
    this.assertOpen();
    const started = performance.now();
    const parent = this.running(sandboxId);
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
    if (options.pauseSource === false) {
      throw new MitosError(
        'not_implemented',
        'a microVM is always stopped while it is snapshotted',
        {},
        {
          remediation: 'omit pause_source or send true; the microvm engine cannot copy a running VM',
        },
      );
    }
    const rows: SandboxRow[] = [];
    const pending: VmHandle[] = [];
    try {
      for (const id of ids) {
        const row: SandboxRow = {
          ...blankRow(id, parent.templateId, parent.limits),
          parentId: parent.id,
          generation: parent.generation + 1,
        };
        if (!this.store.reserveSandbox(row))
          throw new MitosError('conflict', `sandbox "${id}" already exists`, { sandbox: id });
        rows.push(row);
      }
      const live = this.liveOf(sandboxId);
      // Interpreters keep user-space random state that an entropy reseed does not reach.
      const interpreters = (
        await Promise.all(['python', 'javascript'].map((l) => this.kernels.ping(sandboxId, l)))
      ).map(Boolean);
      const result = await forkVm(this.factory, this.snapshots, live, ids, {
        onParentReplaced: (handle) => {
          this.watch(live);
          this.store.markRunning(sandboxId, {
            initPid: handle.vm.pid,
            initStartTicks: processStartTicks(handle.vm.pid) ?? '',
            supervisorPid: null,
            forkTimeMs: parent.forkTimeMs,
          });
        },
        onParentLost: () => void this.terminate(sandboxId).catch(() => {}),
      });
      this.lastForkTimings = result.timings;
      pending.push(...result.children.map((c) => c.handle));
      const children = await Promise.all(
        result.children.map(async ({ id, handle, session }, i) => {
          await this.adopt(id, handle, session, parent.limits);
          pending.splice(pending.indexOf(handle), 1);
          const forkTimeMs = performance.now() - started;
          this.store.markRunning(id, {
            initPid: handle.vm.pid,
            initStartTicks: processStartTicks(handle.vm.pid) ?? '',
            supervisorPid: null,
            forkTimeMs,
          });
          if (interpreters[0])
            await this.kernels
              .run(id, 'python', RESEED_PYTHON, { code: RESEED_PYTHON, timeoutMs: 30_000 })
              .catch(() => {});
          return publicSandbox({ ...(rows[i] as SandboxRow), state: 'running', forkTimeMs });
        }),
      );
      return {
        parent: publicSandbox(this.store.sandbox(sandboxId) as SandboxRow),
        children,
        carried: { filesystem: true, interpreter: interpreters.some(Boolean), interpreterSkipped: [], processes: true },
        forkTimeMs: performance.now() - started,
      };
    } catch (err) {
      for (const h of pending) await this.factory.destroy(h).catch(() => {});
      for (const row of rows) await this.teardown(row.id).catch(() => {});
      throw err instanceof MitosError
        ? err
        : new MitosError('internal', `fork failed: ${(err as Error).message}`, { sandbox: sandboxId }, { cause: err });
    }
  }

  async usage(sandboxId: string): Promise<SandboxUsage> {
    this.running(sandboxId, ['running', 'paused']);
    const live = this.liveOf(sandboxId);
    const mem = processMemory([live.handle.vm.pid]);
    let shared = 0;
    for (let s: Snapshot | undefined = live.handle.snapshot; s; s = s.parent) shared += allocatedBytes(s.disk);
    return {
      sandboxId,
      memory: { ...mem, cgroupBytes: await live.handle.cgroup.memoryBytes() },
      disk: { exclusiveBytes: allocatedBytes(live.handle.disk), sharedBytes: shared },
      cpuNs: await live.handle.cgroup.cpuUsageNs(),
    };
  }

  /** Phases of the last fork (benchmarks). */
  lastForkTimings: ForkTimings | undefined;

  /**
   * Boot a throwaway VM of a template from its disk (no snapshot) and time it to the agent's
   * hello: what every create would cost without template snapshots.
   */
  coldBootMs(templateId: string): Promise<number> {
    const template = this.store.template(templateId);
    if (!template) throw new MitosError('not_found', `template "${templateId}" not found`);
    return this.catalog.coldBootMs(templateId, template.limits);
  }

  /** Host pid of a sandbox's QEMU (benchmarks read its smaps). */
  vmPid(sandboxId: string): number | undefined {
    return this.live.get(sandboxId)?.handle.vm.pid;
  }

  private liveOf(id: string): Live {
    const l = this.live.get(id);
    if (!l) throw new MitosError('sandbox_not_running', `sandbox "${id}" has no running VM`, { sandbox: id });
    return l;
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
      write: async (id, path, data, mode) => on(id).writeFile(path, data, mode),
      list: async (id, path): Promise<FileStat[]> => on(id).list(path),
      stat: async (id, path) => on(id).stat(path),
      mkdir: async (id, path) => on(id).mkdir(path),
      remove: async (id, path) => on(id).remove(path),
    };
  }
}

/** Reseeds the interpreter's own generators in a fork child (a statement: `_` is untouched). */
const RESEED_PYTHON =
  "if True:\n    import sys as _mitos_sys\n    __import__('random').seed()\n    if 'numpy' in _mitos_sys.modules: _mitos_sys.modules['numpy'].random.seed()\n    del _mitos_sys";

/**
 * Kill QEMUs, cgroups, files and rows that an earlier engine on this state dir left behind.
 * A row whose process is alive but is not a QEMU belongs to the container driver (whose
 * sandboxes do survive restarts): refuse rather than kill it.
 */
async function reapLeftovers(stateDir: string, db: StateDatabase, cgroups: CgroupManager): Promise<void> {
  const store = new StateStore(db);
  for (const row of store.sandboxes()) {
    const alive = row.initPid !== null && row.initStartTicks !== null && isSameProcess(row.initPid, row.initStartTicks);
    if (alive && !isQemu(row.initPid as number)) {
      throw new MitosError(
        'host_unsupported',
        `the state directory ${stateDir} has running sandboxes of another engine`,
        {},
        {
          remediation: 'use another --state-dir for the microvm engine, or terminate those sandboxes first',
        },
      );
    }
    if (alive) {
      try {
        process.kill(row.initPid as number, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    store.deleteSandbox(row.id);
  }
  for (const id of cgroups.list())
    await cgroups
      .open(id)
      ?.destroy()
      .catch(() => {});
  rmSync(join(stateDir, 'microvm'), { recursive: true, force: true });
  const shm = shmDirFor(stateDir);
  if (existsSync(shm)) rmSync(shm, { recursive: true, force: true });
}

function isQemu(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]?.includes('qemu-system') ?? false;
  } catch {
    return false;
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
