/**
 * Processes the engine started and keeps track of: their output is kept (bounded) so a client
 * that connects later sees what it missed, and they outlive the client that started them. The
 * agent runs them with detach-on-close, so they also outlive a server restart (untracked then).
 */
import type { ExecResult, ProcessHandle, ProcessInfo, ProcessListener, ProcessOptions } from '../engine.js';
import type { AgentClient, ExecHandle } from './client.js';

/** Output kept per process for late subscribers; older bytes are dropped first. */
export const KEPT_OUTPUT_BYTES = 1024 * 1024;

class BoundedLog {
  private chunks: { stream: 'stdout' | 'stderr'; data: Buffer }[] = [];
  private bytes = 0;

  add(stream: 'stdout' | 'stderr', data: Buffer): void {
    this.chunks.push({ stream, data });
    this.bytes += data.length;
    while (this.bytes > KEPT_OUTPUT_BYTES && this.chunks.length > 1) {
      const dropped = this.chunks.shift();
      this.bytes -= dropped?.data.length ?? 0;
    }
  }

  replay(listener: ProcessListener): void {
    for (const c of this.chunks) {
      if (c.stream === 'stdout') listener.onStdout?.(c.data);
      else listener.onStderr?.(c.data);
    }
  }
}

export class TrackedProcess implements ProcessHandle {
  readonly startedAt = new Date();
  private readonly log = new BoundedLog();
  private readonly listeners = new Set<ProcessListener>();
  private result: ExecResult | undefined;
  private exec!: ExecHandle;
  private readonly finished: Promise<ExecResult>;
  private resolveFinished!: (r: ExecResult) => void;
  pid = 0;

  constructor(readonly command: string) {
    this.finished = new Promise((resolve) => {
      this.resolveFinished = resolve;
    });
  }

  /** Wire the agent's exec to this record; called once the exec has been started. */
  attach(exec: ExecHandle): void {
    this.exec = exec;
    exec.done.then(
      (r) => this.finish(r),
      (err: Error) =>
        this.finish({
          exitCode: -1,
          timedOut: false,
          stdout: Buffer.alloc(0),
          stderr: Buffer.from(`process stream failed: ${err.message}\n`),
          durationMs: Date.now() - this.startedAt.getTime(),
        }),
    );
  }

  output(stream: 'stdout' | 'stderr', data: Buffer): void {
    this.log.add(stream, data);
    for (const l of this.listeners) {
      if (stream === 'stdout') l.onStdout?.(data);
      else l.onStderr?.(data);
    }
  }

  private finish(r: ExecResult): void {
    if (this.result) return;
    this.result = r;
    for (const l of this.listeners) l.onExit?.(r);
    this.listeners.clear();
    this.resolveFinished(r);
  }

  get exited(): boolean {
    return this.result !== undefined;
  }

  subscribe(listener: ProcessListener): () => void {
    this.log.replay(listener);
    if (this.result) {
      listener.onExit?.(this.result);
      return () => {};
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  write(data: Buffer): void {
    this.exec.write(data);
  }

  closeStdin(): void {
    this.exec.closeStdin();
  }

  resize(cols: number, rows: number): void {
    this.exec.resize(cols, rows);
  }

  kill(signal = 9): void {
    if (!this.result) this.exec.kill(signal);
  }

  wait(): Promise<ExecResult> {
    return this.finished;
  }

  /** Forget the connection without killing the process (engine shutdown). */
  release(): void {
    this.exec.disconnect();
  }
}

/** Tracked processes of every sandbox. Exited processes stay listed until their sandbox goes. */
export class ProcessRegistry {
  private readonly bySandbox = new Map<string, Map<number, TrackedProcess>>();

  add(sandboxId: string, p: TrackedProcess): void {
    let m = this.bySandbox.get(sandboxId);
    if (!m) {
      m = new Map();
      this.bySandbox.set(sandboxId, m);
    }
    m.set(p.pid, p);
  }

  get(sandboxId: string, pid: number): TrackedProcess | undefined {
    return this.bySandbox.get(sandboxId)?.get(pid);
  }

  all(sandboxId: string): TrackedProcess[] {
    return [...(this.bySandbox.get(sandboxId)?.values() ?? [])];
  }

  forget(sandboxId: string): void {
    this.bySandbox.delete(sandboxId);
  }

  releaseAll(): void {
    for (const m of this.bySandbox.values()) for (const p of m.values()) p.release();
    this.bySandbox.clear();
  }
}

/** Start a process that outlives its caller (detach on close) and track it. Shared by drivers. */
export async function startTrackedProcess(
  client: AgentClient,
  registry: ProcessRegistry,
  sandboxId: string,
  options: ProcessOptions,
): Promise<TrackedProcess> {
  const tracked = new TrackedProcess(options.command);
  const exec = await client.startExec(
    {
      command: options.command,
      cwd: options.cwd,
      env: options.env,
      timeoutMs: options.timeoutMs,
      user: options.user,
      pty: options.pty,
      stdin: options.stdin,
      detachOnClose: true,
    },
    { onStdout: (d) => tracked.output('stdout', d), onStderr: (d) => tracked.output('stderr', d) },
  );
  tracked.attach(exec);
  tracked.pid = await exec.pid;
  registry.add(sandboxId, tracked);
  return tracked;
}

/** The sandbox's processes, marked tracked where this engine started them and they still run. */
export async function listProcessesWithTracking(
  client: AgentClient,
  registry: ProcessRegistry,
  sandboxId: string,
): Promise<ProcessInfo[]> {
  const live = await client.processes();
  return live.map((p) => {
    const t = registry.get(sandboxId, p.pid);
    return t && !t.exited
      ? { pid: p.pid, command: p.command, tracked: true, startedAt: t.startedAt }
      : { pid: p.pid, command: p.command, tracked: false };
  });
}
