/**
 * Access to the agents of running sandboxes, the same for every driver: one client per sandbox
 * over the driver's socket, the processes this engine started, the stateful interpreters, and
 * the operations built on them (exec, files, processes, run_code, port connections).
 * Callers check the sandbox's state first (the host core's `running`).
 */
import type { Duplex } from 'node:stream';
import { MitosError } from '@mitos/protocol';
import { AgentClient } from '../agent/client.js';
import { KERNEL_READY_LINE, KERNEL_STATE_FILE, KernelManager, normalizeLanguage } from '../agent/kernels.js';
import {
  listProcessesWithTracking,
  ProcessRegistry,
  startTrackedProcess,
  type TrackedProcess,
} from '../agent/processes.js';
import { transpileTypeScript } from '../agent/typescript.js';
import type {
  ExecOptions,
  ExecResult,
  ProcessHandle,
  ProcessInfo,
  ProcessOptions,
  RunCodeOptions,
  RunCodeOutcome,
  SandboxFiles,
} from '../engine.js';

/** Reseeds the interpreter's own generators in a fork child (a statement: `_` is untouched). */
const RESEED_PYTHON =
  "if True:\n    import sys as _mitos_sys\n    __import__('random').seed()\n    if 'numpy' in _mitos_sys.modules: _mitos_sys.modules['numpy'].random.seed()\n    del _mitos_sys";

export class SandboxAgents {
  private readonly clients = new Map<string, AgentClient>();
  readonly processes = new ProcessRegistry();
  readonly kernels: KernelManager;

  /** `sandboxEnv`: a sandbox's own env, which its interpreters start with (under their own). */
  constructor(
    private readonly socketPath: (id: string) => string,
    sandboxEnv: (id: string) => Record<string, string> | undefined = () => undefined,
  ) {
    this.kernels = new KernelManager({
      client: (id) => this.client(id),
      startKernelProcess: async (id, command, kernelEnv) => {
        const env = { ...sandboxEnv(id), ...kernelEnv };
        const p = (await this.startProcess(id, { command, env, timeoutMs: 0 })) as TrackedProcess;
        let err = '';
        let out = '';
        let signalReady = () => {};
        const ready = new Promise<void>((resolve) => {
          signalReady = resolve;
        });
        p.subscribe({
          onStderr: (d) => (err += d.toString()),
          // Only the first line matters; a kernel's cells write through their own channel.
          onStdout: (d) => {
            if (out.length > KERNEL_READY_LINE.length) return;
            out += d.toString();
            if (out.startsWith(KERNEL_READY_LINE)) signalReady();
          },
          onExit: () => signalReady(),
        });
        return { pid: p.pid, exited: () => p.exited, stderr: () => err, ready };
      },
    });
  }

  client(id: string): AgentClient {
    let c = this.clients.get(id);
    if (!c) {
      c = new AgentClient(this.socketPath(id), id);
      this.clients.set(id, c);
    }
    return c;
  }

  /** Drop what this process holds for a sandbox (gone, or renamed). */
  forget(id: string): void {
    this.clients.get(id)?.close();
    this.clients.delete(id);
    this.processes.forget(id);
    this.kernels.forget(id);
  }

  /**
   * A pooled sandbox handed out as `toId`: the connection to its agent, made while it was
   * pooled, moves with it, so the user's first call finds the agent's connection process
   * running. What the pool itself had running through it (a kernel started ahead) is let go as
   * a forget would; the kernels move by their own hand-out.
   */
  handOver(fromId: string, toId: string): void {
    const client = this.clients.get(fromId);
    for (const p of this.processes.all(fromId)) p.release();
    this.processes.forget(fromId);
    this.kernels.forget(fromId);
    this.clients.delete(fromId);
    if (!client) return;
    client.renamed(this.socketPath(toId), toId);
    this.clients.set(toId, client);
  }

  /**
   * Close the connection to a sandbox's agent (a checkpoint needs it gone). Streams of commands
   * started through it end; the commands themselves run on, and the next operation connects again.
   */
  disconnect(id: string): void {
    this.clients.get(id)?.close();
    this.clients.delete(id);
  }

  releaseAll(): void {
    this.processes.releaseAll();
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  async exec(id: string, options: ExecOptions): Promise<ExecResult> {
    const { stdin } = options;
    const handle = await this.client(id).startExec(
      {
        command: options.command,
        cwd: options.cwd,
        env: options.env,
        timeoutMs: options.timeoutMs,
        stdin: !!stdin,
        user: options.user,
        noPid: true,
      },
      { onStdout: options.onStdout, onStderr: options.onStderr, signal: options.signal },
    );
    if (stdin) {
      if (stdin.length > 0) handle.write(stdin);
      handle.closeStdin();
    }
    return handle.done;
  }

  startProcess(id: string, options: ProcessOptions): Promise<ProcessHandle> {
    return startTrackedProcess(this.client(id), this.processes, id, options);
  }

  listProcesses(id: string): Promise<ProcessInfo[]> {
    return listProcessesWithTracking(this.client(id), this.processes, id);
  }

  async signalProcess(id: string, pid: number, signal: number): Promise<void> {
    // A tracked process is a `sh -c` wrapper leading its own process group: signal the group,
    // or `kill` would end the wrapper and leave what it started (a server on a port) running.
    const tracked = this.processes.get(id, pid);
    if (tracked && !tracked.exited) tracked.kill(signal);
    else await this.client(id).signal(pid, signal);
  }

  connectPort(id: string, port: number): Promise<Duplex> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new MitosError('invalid_request', `port must be 1..65535, got ${port}`);
    }
    return this.client(id).connectTcp(port);
  }

  runCode(id: string, options: RunCodeOptions): Promise<RunCodeOutcome> {
    const language = normalizeLanguage(options.language);
    if (!language) {
      throw new MitosError(
        'kernel_unavailable',
        `unsupported language ${JSON.stringify(options.language)}`,
        { sandbox: id },
        { remediation: 'use python, javascript or typescript' },
      );
    }
    if (language === 'typescript')
      return this.kernels.run(id, 'javascript', transpileTypeScript(options.code), options);
    return this.kernels.run(id, language, options.code, options);
  }

  /** Files over the agent; `guard` runs first (state check), `beforeWrite` before a write. */
  files(guard: (id: string) => void, beforeWrite: () => void): SandboxFiles {
    const on = (id: string) => {
      guard(id);
      return this.client(id);
    };
    return {
      read: async (id, path) => on(id).readFile(path),
      write: async (id, path, data, mode) => {
        const client = on(id);
        beforeWrite();
        return client.writeFile(path, data, mode);
      },
      list: async (id, path) => on(id).list(path),
      stat: async (id, path) => on(id).stat(path),
      mkdir: async (id, path) => on(id).mkdir(path),
      remove: async (id, path) => on(id).remove(path),
    };
  }

  /**
   * Interpreter state for a fork that does not carry processes: written into the parent's
   * filesystem so the snapshot holds it. Undefined when no interpreter was running.
   */
  saveInterpreters(id: string): Promise<{ saved: string[]; skipped: string[] } | undefined> {
    return this.kernels.snapshot(id).catch(() => undefined);
  }

  /** The saved interpreter state is the children's now; the parent does not need it. */
  dropSavedInterpreters(id: string): void {
    void this.client(id)
      .remove(KERNEL_STATE_FILE)
      .catch(() => {});
  }

  /** Whether python and javascript interpreters answer (a fork that carries processes keeps them). */
  async liveInterpreters(id: string): Promise<{ python: boolean; javascript: boolean }> {
    const [python, javascript] = await Promise.all(['python', 'javascript'].map((l) => this.kernels.ping(id, l)));
    return { python: Boolean(python), javascript: Boolean(javascript) };
  }

  /** Interpreters keep user-space random state that an entropy reseed does not reach. */
  async reseedPython(id: string): Promise<void> {
    await this.kernels.run(id, 'python', RESEED_PYTHON, { code: RESEED_PYTHON, timeoutMs: 30_000 }).catch(() => {});
  }
}
