/**
 * An in-memory Engine for the server's unit tests only: it checks HTTP mapping, not isolation.
 * Never exported from the package index. Its knobs (`onExec`, `onRunCode`, `onStartProcess`,
 * `onConnectPort`, `createGate`, `failNextCreate`) let a test script the engine's side of one
 * request. connectPort defaults to the host's own 127.0.0.1:port, so a test can stand up a
 * real server to play the guest.
 */
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
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
  ResourceLimits,
  RunCodeOptions,
  RunCodeOutcome,
  SandboxDetail,
  SandboxFiles,
  SandboxInfo,
  SandboxUsage,
  TemplateInfo,
} from '@mitos/engine';
import { MitosError, type NetworkPosture } from '@mitos/protocol';

import { FakeFiles, type FileNode } from './fake-files.js';

export { rawErrno } from './fake-files.js';

import { FakeProcess, result } from './fake-process.js';

const RUNNING: readonly SandboxInfo['state'][] = ['running'];
/** States the host lets pause, resume, deadlines, usage and posture reads act in. */
const LIVE: readonly SandboxInfo['state'][] = ['running', 'paused'];

export { FakeProcess, result } from './fake-process.js';

const DEFAULT_LIMITS: ResourceLimits = { memoryBytes: 512 * 1024 * 1024, pids: 512, cpus: 1 };

export type ExecScript = (command: string, options: ExecOptions) => Promise<ExecResult> | ExecResult;
export type RunCodeScript = (options: RunCodeOptions) => Promise<RunCodeOutcome> | RunCodeOutcome;

export class FakeEngine implements Engine {
  readonly name = 'fake';
  readonly templates = new Map<string, TemplateInfo>();
  readonly sandboxes = new Map<string, SandboxInfo>();
  readonly createCalls: CreateSandboxOptions[] = [];
  readonly execCalls: ExecOptions[] = [];
  /** When set, create() waits for it before finishing (to hold a request in flight). */
  createGate: Promise<void> | undefined;
  /** When set, the next create() throws it (once). */
  failNextCreate: Error | undefined;
  onExec: ExecScript = (command) => result(0, `ran: ${command}\n`, '');
  readonly runCodeCalls: RunCodeOptions[] = [];
  onRunCode: RunCodeScript = () => codeOutcome(0);
  readonly processes = new Map<number, FakeProcess>();
  /** Called with each process startProcess makes, before it is returned. */
  onStartProcess: ((process: FakeProcess) => void) | undefined;
  /** Processes listProcesses reports besides the tracked ones. */
  untracked: ProcessInfo[] = [];
  readonly deadlines = new Map<string, Date>();
  readonly connectCalls: Array<{ sandboxId: string; port: number }> = [];
  onConnectPort: (sandboxId: string, port: number) => Promise<Duplex> = (_id, port) => connectLoopback(port);
  readonly forkCalls: Array<{ sandboxId: string; options: ForkOptions }> = [];
  readonly files: SandboxFiles;
  readonly #trees = new Map<string, Map<string, FileNode>>();
  readonly #goneListeners = new Set<(sandboxId: string) => void>();
  readonly #endingHooks = new Set<(sandboxId: string, reason: EndReason) => Promise<void>>();
  #nextPid = 100;
  /**
   * Reads of a sandbox's record, counted as the real host reads its row: once per get() and once
   * per call that names a sandbox (tests assert a request path makes one).
   */
  lookups = 0;

  constructor() {
    this.files = new FakeFiles((id) => {
      this.#row(id);
      return this.#trees.get(id) as Map<string, FileNode>;
    });
  }

  listTemplates(): TemplateInfo[] {
    return [...this.templates.values()];
  }

  getTemplate(id: string): TemplateInfo | undefined {
    return this.templates.get(id);
  }

  async ensureTemplate(options: CreateTemplateOptions): Promise<TemplateInfo> {
    const existing = this.templates.get(options.id);
    if (existing) return existing;
    const template: TemplateInfo = {
      id: options.id,
      image: 'base',
      ready: true,
      createdAt: new Date(),
      creationTimeMs: 12,
      network: options.network ?? { egress: 'deny', inbound: 'deny' },
      limits: DEFAULT_LIMITS,
    };
    this.templates.set(options.id, template);
    return template;
  }

  async create(options: CreateSandboxOptions): Promise<SandboxInfo> {
    this.createCalls.push(options);
    if (this.createGate) await this.createGate;
    const failure = this.failNextCreate;
    if (failure) {
      this.failNextCreate = undefined;
      throw failure;
    }
    if (!this.templates.has(options.templateId)) {
      throw new MitosError('not_found', `template "${options.templateId}" not found`);
    }
    const sandbox: SandboxInfo = {
      id: options.id,
      templateId: options.templateId,
      state: 'running',
      createdAt: new Date(),
      forkTimeMs: 1.25,
      hostname: options.id,
      limits: { ...DEFAULT_LIMITS, ...options.limits },
      parentId: null,
      generation: 0,
    };
    this.sandboxes.set(options.id, sandbox);
    this.#trees.set(options.id, new Map([['/', { kind: 'dir', mode: 0o755, mtimeMs: Date.now() }]]));
    return sandbox;
  }

  get(id: string): SandboxInfo | undefined {
    this.lookups += 1;
    return this.sandboxes.get(id);
  }

  describe(id: string): SandboxDetail | undefined {
    const sandbox = this.get(id);
    if (!sandbox) return undefined;
    const live = sandbox.state === 'running' || sandbox.state === 'paused';
    return { ...sandbox, ...(live && { network: this.#posture(sandbox) }), deadline: this.deadlines.get(id) ?? null };
  }

  list(): SandboxInfo[] {
    return [...this.sandboxes.values()];
  }

  async exec(sandboxId: string, options: ExecOptions): Promise<ExecResult> {
    this.#row(sandboxId, RUNNING, options.onAccepted);
    this.execCalls.push(options);
    return this.onExec(options.command, options);
  }

  async startProcess(sandboxId: string, options: ProcessOptions): Promise<ProcessHandle> {
    this.#row(sandboxId, RUNNING, options.onAccepted);
    const process = new FakeProcess(this.#nextPid++, sandboxId, options);
    this.processes.set(process.pid, process);
    this.onStartProcess?.(process);
    return process;
  }

  async listProcesses(sandboxId: string): Promise<ProcessInfo[]> {
    this.#row(sandboxId);
    const tracked = [...this.processes.values()]
      .filter((p) => p.sandboxId === sandboxId && !p.exited)
      .map((p) => ({ pid: p.pid, command: p.options.command, tracked: true, startedAt: p.startedAt }));
    return [...tracked, ...this.untracked];
  }

  getProcess(sandboxId: string, pid: number): ProcessHandle | undefined {
    const process = this.processes.get(pid);
    return process?.sandboxId === sandboxId ? process : undefined;
  }

  async signalProcess(sandboxId: string, pid: number, signal: number): Promise<void> {
    this.#row(sandboxId);
    const process = this.getProcess(sandboxId, pid);
    if (!process) throw new MitosError('not_found', `no process ${pid} in sandbox "${sandboxId}"`);
    process.kill(signal);
  }

  async pause(sandboxId: string, options: LifecycleOptions = {}): Promise<void> {
    this.#changeState(sandboxId, 'paused', options);
  }

  async resume(sandboxId: string, options: LifecycleOptions = {}): Promise<void> {
    this.#changeState(sandboxId, 'running', options);
  }

  async setDeadline(sandboxId: string, deadline: DeadlineChange): Promise<void> {
    const sandbox = this.#row(sandboxId, LIVE);
    this.#putDeadline(sandboxId, this.#decideDeadline(sandbox, deadline));
  }

  /** As the host: one read, the deadline decided on it, set once the state has changed. */
  #changeState(sandboxId: string, state: SandboxInfo['state'], options: LifecycleOptions): void {
    const sandbox = this.#row(sandboxId, LIVE, options.onAccepted);
    const deadline = this.#decideDeadline(sandbox, options.deadline);
    this.#setState(sandbox, state);
    this.#putDeadline(sandboxId, deadline);
  }

  #decideDeadline(sandbox: SandboxInfo, change: DeadlineChange | undefined): Date | null | undefined {
    return typeof change === 'function' ? change(sandbox, this.deadlines.get(sandbox.id) ?? null) : change;
  }

  #putDeadline(sandboxId: string, deadline: Date | null | undefined): void {
    if (deadline === null) this.deadlines.delete(sandboxId);
    else if (deadline !== undefined) this.deadlines.set(sandboxId, deadline);
  }

  /** A read of the row's deadline column on the host: counted. */
  getDeadline(sandboxId: string): Date | null {
    this.lookups += 1;
    return this.deadlines.get(sandboxId) ?? null;
  }

  async connectPort(sandboxId: string, port: number, acceptance?: Acceptance): Promise<Duplex> {
    this.#row(sandboxId, RUNNING, acceptance?.onAccepted);
    this.connectCalls.push({ sandboxId, port });
    return this.onConnectPort(sandboxId, port);
  }

  async runCode(sandboxId: string, options: RunCodeOptions): Promise<RunCodeOutcome> {
    this.#row(sandboxId, RUNNING, options.onAccepted);
    this.runCodeCalls.push(options);
    return this.onRunCode(options);
  }

  async fork(sandboxId: string, options: ForkOptions): Promise<ForkOutcome> {
    const parent = this.#row(sandboxId, RUNNING, options.onAccepted);
    // Recorded as the caller asked, less the hook (a function no test can compare).
    const { onAccepted: _hook, ...asked } = options;
    this.forkCalls.push({ sandboxId, options: asked });
    const ids =
      options.ids ?? Array.from({ length: options.count }, (_, i) => `${sandboxId}-f${this.forkCalls.length}-${i}`);
    const taken = ids.find((id) => this.sandboxes.has(id));
    if (taken) throw new MitosError('conflict', `sandbox "${taken}" already exists`, { sandbox: taken });
    const children = ids.map((id) => {
      const child: SandboxInfo = {
        ...parent,
        id,
        hostname: id,
        createdAt: new Date(),
        forkTimeMs: 0.75,
        parentId: parent.id,
        generation: parent.generation + 1,
      };
      this.sandboxes.set(id, child);
      this.#trees.set(id, new Map(this.#trees.get(sandboxId)));
      return child;
    });
    return {
      parent,
      children,
      carried: {
        filesystem: true,
        interpreter: true,
        interpreterSkipped: ['sock'],
        processes: false,
        processesNotCarried: [],
        connections: false,
      },
      forkTimeMs: 2.5,
    };
  }

  async usage(sandboxId: string, acceptance?: Acceptance): Promise<SandboxUsage> {
    this.#row(sandboxId, LIVE, acceptance?.onAccepted);
    return {
      sandboxId,
      memory: { uniqueBytes: 1000, sharedBytes: 5000, cgroupBytes: 3000 },
      disk: { exclusiveBytes: 200, sharedBytes: 900 },
      cpuNs: 42,
      egressBytes: 0,
    };
  }

  /** Postures recorded by setNetwork (the fake enforces nothing: unit tests of routes only). */
  readonly postures = new Map<string, NetworkPosture>();

  getNetwork(sandboxId: string): NetworkPosture {
    return this.#posture(this.#row(sandboxId, LIVE));
  }

  #posture({ id, templateId }: SandboxInfo): NetworkPosture {
    return this.postures.get(id) ?? this.templates.get(templateId)?.network ?? { egress: 'deny', inbound: 'deny' };
  }

  async setNetwork(sandboxId: string, posture: NetworkPosture): Promise<NetworkPosture> {
    this.#row(sandboxId);
    this.postures.set(sandboxId, posture);
    return posture;
  }

  /** `reason` lets a test end a sandbox as its deadline or a lost VM would. */
  async terminate(sandboxId: string, reason: EndReason = 'terminated', acceptance?: EndAcceptance): Promise<boolean> {
    this.lookups += 1;
    const sandbox = this.sandboxes.get(sandboxId);
    if (sandbox) {
      await acceptance?.beforeEnd?.(sandbox);
      for (const hook of this.#endingHooks) await hook(sandboxId, reason).catch(() => {});
      acceptance?.onTeardown?.();
    }
    this.#trees.delete(sandboxId);
    const existed = this.sandboxes.delete(sandboxId);
    if (existed) for (const listener of this.#goneListeners) listener(sandboxId);
    return existed;
  }

  onSandboxEnding(hook: (sandboxId: string, reason: EndReason) => Promise<void>): () => void {
    this.#endingHooks.add(hook);
    return () => this.#endingHooks.delete(hook);
  }

  onSandboxGone(listener: (sandboxId: string) => void): () => void {
    this.#goneListeners.add(listener);
    return () => this.#goneListeners.delete(listener);
  }

  async close(): Promise<void> {}

  /** The host core's rule (core/host.ts `running`): one counted read, then the state check. */
  #row(id: string, allowed: readonly SandboxInfo['state'][] = RUNNING, accepted?: Acceptance['onAccepted']) {
    this.lookups += 1;
    const sandbox = this.sandboxes.get(id);
    if (!sandbox || !this.#trees.has(id)) throw new MitosError('not_found', `sandbox "${id}" not found`);
    if (!allowed.includes(sandbox.state)) {
      throw new MitosError('sandbox_not_running', `sandbox "${id}" is ${sandbox.state}`, {
        sandbox: id,
        state: sandbox.state,
      });
    }
    accepted?.(sandbox);
    return sandbox;
  }

  #setState(sandbox: SandboxInfo, state: SandboxInfo['state']): void {
    this.sandboxes.set(sandbox.id, { ...sandbox, state });
  }
}

export function codeOutcome(exitCode: number, extra: Partial<RunCodeOutcome> = {}): RunCodeOutcome {
  return { exitCode, results: [], stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), durationMs: 4, ...extra };
}

function connectLoopback(port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

export function timedOut(): ExecResult {
  return { ...result(124, '', ''), timedOut: true };
}
