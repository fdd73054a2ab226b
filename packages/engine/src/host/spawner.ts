/**
 * Host processes the engine starts on every create and fork (the launcher, the snapshot and
 * subvolume helpers) are spawned by a small helper process, `mitos-agent spawner`
 * (packages/agent/src/spawner.c), instead of by the server itself. A server holding a few
 * hundred MB paid 10-25 ms per child_process.spawn, because libuv forks the whole process and
 * copies its page tables, blocking the event loop meanwhile (fan-out 16 paid it 16 times in a
 * row); the helper is small and spawns with vfork semantics (packages/bench/spike/spawn-cost.mjs).
 *
 * One helper per Spawner, started by the engine that owns it and ended by its close(): it
 * reads its requests from a pipe only this process holds (no socket file), and dies with this
 * process (PR_SET_PDEATHSIG). The processes it started run on without it. If it ends
 * unexpectedly, what was in flight fails and the next spawn starts a new one.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { constants } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import { getSystemErrorName } from 'node:util';
import { MitosError } from '@mitos/protocol';

export interface SpawnOptions {
  /** The child's whole environment (never the server's by default). */
  env: Record<string, string | undefined>;
  /** Written to the child's stdin, which is then closed; without it stdin is empty. */
  stdin?: string;
  /** A session of its own (setsid), as child_process's `detached`. */
  detached?: boolean;
}

export interface SpawnExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnHandlers {
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
  /** The child ended and all it wrote has been delivered. */
  onExit: (exit: SpawnExit) => void;
  /** It could not be started (an errno error shaped like child_process's), or the helper ended. */
  onError: (err: Error) => void;
}

export interface SpawnedProcess {
  /** Resolves to the pid once started; rejects when it could not be. */
  readonly pid: Promise<number>;
  /** Signal it, unless it has already been reaped (so a reused pid is never hit). */
  kill(signal?: NodeJS.Signals): void;
  /** Stop hearing of it: its output pipes are closed and it runs on unobserved. */
  release(): void;
}

export interface RunOutput {
  stdout: string;
  stderr: string;
}

interface Entry {
  file: string;
  /** Per stream, so a character split across two reads arrives whole. */
  stdout: StringDecoder;
  stderr: StringDecoder;
  handlers: SpawnHandlers;
  resolvePid: (pid: number) => void;
  rejectPid: (err: Error) => void;
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));
const FLAG_SETSID = 1;

export class Spawner {
  private helper: ChildProcess | undefined;
  private buffered: Buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly live = new Map<number, Entry>();
  private closed = false;
  /** Called once nothing is in flight (close() waits on it). */
  private drained: (() => void) | undefined;

  constructor(private readonly agentPath: string) {}

  /** The helper's pid while it runs (tests, diagnostics). */
  get helperPid(): number | undefined {
    return this.helper?.pid;
  }

  /** Start the helper now (the engine does at open, so the first create does not pay for it). */
  start(): void {
    this.ensureHelper();
  }

  spawn(file: string, args: readonly string[], options: SpawnOptions, handlers: SpawnHandlers): SpawnedProcess {
    const id = this.nextId++;
    let resolvePid: (pid: number) => void = () => {};
    let rejectPid: (err: Error) => void = () => {};
    const pid = new Promise<number>((res, rej) => {
      resolvePid = res;
      rejectPid = rej;
    });
    pid.catch(() => {}); // a caller that never asks for the pid hears of the failure in onError
    const entry: Entry = {
      file,
      stdout: new StringDecoder('utf8'),
      stderr: new StringDecoder('utf8'),
      handlers,
      resolvePid,
      rejectPid,
    };
    const fail = (err: Error) => {
      rejectPid(err);
      handlers.onError(err);
    };
    if (this.closed) {
      queueMicrotask(() => fail(new MitosError('internal', 'the engine is closed')));
      return { pid, kill: () => {}, release: () => {} };
    }
    const env = Object.entries(options.env)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${v}`);
    const strings = [file, file, ...args, ...env];
    // As child_process refuses them: a NUL would end a string early.
    if (strings.some((s) => s.includes('\0'))) throw new TypeError(`spawn ${file}: an argument holds a NUL byte`);
    const helper = this.ensureHelper();
    this.live.set(id, entry);
    this.refWhileBusy();
    const head = Buffer.alloc(14);
    head.write('S', 0);
    head.writeUInt32LE(id, 1);
    head.writeUInt8(options.detached ? FLAG_SETSID : 0, 5);
    head.writeUInt32LE(args.length + 1, 6);
    head.writeUInt32LE(env.length, 10);
    this.send(helper, [head, Buffer.from(strings.map((s) => `${s}\0`).join('')), Buffer.from(options.stdin ?? '')]);
    return {
      pid,
      kill: (signal = 'SIGTERM') => {
        if (!this.live.has(id) || !this.helper) return;
        const msg = Buffer.alloc(9);
        msg.write('K', 0);
        msg.writeUInt32LE(id, 1);
        msg.writeUInt32LE(constants.signals[signal], 5);
        this.send(this.helper, [msg]);
      },
      release: () => {
        if (!this.live.delete(id) || !this.helper) return;
        const msg = Buffer.alloc(5);
        msg.write('D', 0);
        msg.writeUInt32LE(id, 1);
        this.send(this.helper, [msg]);
        this.refWhileBusy();
      },
    };
  }

  /**
   * Run to completion with `stdin`, like execFile: resolves with the output on exit 0, rejects
   * with an error carrying code, signal, killed, stdout and stderr otherwise.
   */
  run(
    file: string,
    args: readonly string[],
    options: SpawnOptions & { timeoutMs?: number } = { env: {} },
  ): Promise<RunOutput> {
    return new Promise((resolve, reject) => {
      let stdout = '';
      let stderr = '';
      let killed = false;
      const child = this.spawn(file, args, options, {
        onStdout: (t) => {
          stdout += t;
        },
        onStderr: (t) => {
          stderr += t;
        },
        onExit: ({ code, signal }) => {
          clearTimeout(timer);
          if (code === 0) return resolve({ stdout, stderr });
          const err = new Error(`Command failed: ${[file, ...args].join(' ')}\n${stderr}`);
          reject(Object.assign(err, { code, signal, killed, stdout, stderr }));
        },
        onError: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      const timer =
        options.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              killed = true;
              child.kill('SIGTERM');
            }, options.timeoutMs);
    });
  }

  /**
   * End the helper and wait for it to be gone. What is in flight finishes first (a launch
   * under way when the engine closes still reports its sandbox), for at most `drainMs`; the
   * processes it started run on.
   */
  async close(drainMs = 35_000): Promise<void> {
    this.closed = true;
    const helper = this.helper;
    if (!helper) return;
    helper.ref();
    if (this.live.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => {
          this.drained = resolve;
        }),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, drainMs);
        }),
      ]);
      clearTimeout(timer);
    }
    const gone = new Promise<void>((resolve) => helper.once('exit', () => resolve()));
    if (helper.exitCode === null && helper.signalCode === null) {
      helper.stdin?.end();
      const timer = setTimeout(() => helper.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    }
  }

  private ensureHelper(): ChildProcess {
    if (this.helper) return this.helper;
    const helper = spawn(this.agentPath, ['spawner', String(process.pid)], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    this.helper = helper;
    this.buffered = Buffer.alloc(0);
    helper.stdin?.on('error', () => {}); // its exit says what happened
    helper.stdout?.on('data', (chunk: Buffer) => this.receive(chunk));
    const lost = (why: string) => {
      if (this.helper !== helper) return;
      this.helper = undefined;
      const err = new MitosError(
        'internal',
        `the engine's process spawner ended (${why})`,
        {},
        {
          remediation:
            'retry (a new spawner starts on the next request); if it keeps failing, rebuild the agent (`npm run build`): one older than the spawner cannot run it',
        },
      );
      const entries = [...this.live.values()];
      this.live.clear();
      this.drained?.();
      for (const e of entries) {
        e.rejectPid(err);
        e.handlers.onError(err);
      }
    };
    helper.on('error', (e) => lost(e.message));
    // 'close', not 'exit': what it wrote before ending is delivered first.
    helper.on('close', (code, signal) => lost(signal ?? `exit ${code}`));
    this.refWhileBusy();
    return helper;
  }

  /** Keep the event loop alive only while something waits on the helper. */
  private refWhileBusy(): void {
    if (this.live.size === 0) this.drained?.();
    const helper = this.helper;
    if (!helper) return;
    const pipes = [helper.stdin, helper.stdout] as unknown as Array<{ ref(): void; unref(): void } | null>;
    if (this.live.size > 0) {
      helper.ref();
      for (const p of pipes) p?.ref();
    } else {
      helper.unref();
      for (const p of pipes) p?.unref();
    }
  }

  private send(helper: ChildProcess, parts: Buffer[]): void {
    const length = Buffer.alloc(4);
    length.writeUInt32LE(parts.reduce((n, p) => n + p.length, 0));
    helper.stdin?.write(Buffer.concat([length, ...parts]));
  }

  private receive(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 4) {
      const length = this.buffered.readUInt32LE(0);
      if (this.buffered.length < 4 + length) break;
      const msg = this.buffered.subarray(4, 4 + length);
      this.buffered = this.buffered.subarray(4 + length);
      this.dispatch(msg);
    }
  }

  private dispatch(msg: Buffer): void {
    const tag = String.fromCharCode(msg[0] ?? 0);
    const id = msg.readUInt32LE(1);
    const entry = this.live.get(id);
    if (!entry) return; // released, or failed when a previous helper ended
    if (tag === 'P') entry.resolvePid(msg.readUInt32LE(5));
    else if (tag === 'O') entry.handlers.onStdout?.(entry.stdout.write(msg.subarray(5)));
    else if (tag === 'E') entry.handlers.onStderr?.(entry.stderr.write(msg.subarray(5)));
    else if (tag === 'F' || tag === 'X') {
      this.live.delete(id);
      this.refWhileBusy();
      if (tag === 'X') {
        const code = msg.readInt32LE(5);
        const signal = msg.readInt32LE(9);
        entry.handlers.onExit({
          code: code < 0 ? null : code,
          signal: signal > 0 ? (SIGNAL_NAMES.get(signal) ?? null) : null,
        });
      } else {
        const errno = msg.readUInt32LE(5);
        const name = getSystemErrorName(-errno);
        const err = Object.assign(new Error(`spawn ${entry.file} ${name}`), {
          errno: -errno,
          code: name,
          syscall: `spawn ${entry.file}`,
          path: entry.file,
        });
        entry.rejectPid(err);
        entry.handlers.onError(err);
      }
    }
  }
}
