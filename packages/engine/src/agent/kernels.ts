/**
 * Stateful code kernels inside a sandbox (packages/agent/kernels): started on first use as a
 * tracked background process, reached through the agent's unix-socket relay, one cell per
 * connection. A kernel that dies or hangs past its deadline is reported and restarted on the
 * next call; its variables are lost then, and the error says so.
 */
import type { Duplex } from 'node:stream';
import { MitosError } from '@mitos/protocol';
import type { CodeError, CodeResult, RunCodeOptions, RunCodeOutcome } from '../engine.js';
import type { AgentClient } from './client.js';
import { type KernelLine, readLines } from './kernel-lines.js';

/** Where the engine mounts packages/agent/kernels inside every sandbox (read-only). */
export const KERNELS_IN_SANDBOX = '/opt/mitos/kernels';
/** The directory watcher (packages/agent/watch), where the engine ships it beside the kernels. */
export const WATCHER_IN_SANDBOX = `${KERNELS_IN_SANDBOX}/mitos-watch`;

export interface KernelSpec {
  socket: string;
  command: string;
  env: Record<string, string>;
}

const KERNELS: Record<string, KernelSpec> = {
  python: {
    socket: '/run/mitos/kernel-python.sock',
    command: `exec python3 -u ${KERNELS_IN_SANDBOX}/mitos_kernel.py /run/mitos/kernel-python.sock`,
    // A fork child finds its parent's globals at MITOS_KERNEL_RESTORE and loads them once.
    env: { MPLBACKEND: 'Agg', PYTHONDONTWRITEBYTECODE: '1', MITOS_KERNEL_RESTORE: '/run/mitos/kernel-state.pkl' },
  },
  javascript: {
    socket: '/run/mitos/kernel-js.sock',
    command: `exec node ${KERNELS_IN_SANDBOX}/mitos_kernel.mjs /run/mitos/kernel-js.sock`,
    env: {},
  },
};

/** A named context: a kernel of its own beside the language's default one. */
const CONTEXT_NAME = /^[a-z0-9]{1,40}$/;

/**
 * The kernel a cell runs in: the language's default kernel, or the one of a named context
 * (its own process and socket, so its variables are its own). Only the default python kernel
 * carries its globals into a fork.
 */
export function kernelSpec(language: string, context?: string): KernelSpec | undefined {
  const base = KERNELS[language];
  if (base === undefined || context === undefined) return base;
  if (!CONTEXT_NAME.test(context)) {
    throw new MitosError('invalid_request', `kernel context ${JSON.stringify(context)} must match ${CONTEXT_NAME}`);
  }
  const socket = base.socket.replace(/\.sock$/, `-${context}.sock`);
  const { MITOS_KERNEL_RESTORE: _restore, ...env } = base.env;
  return { socket, command: base.command.replace(base.socket, socket), env };
}

/** Fork snapshots of the python kernel's globals are written here inside the sandbox. */
export const KERNEL_STATE_FILE = '/run/mitos/kernel-state.pkl';

const LANGUAGE_ALIASES: Record<string, string> = {
  python: 'python',
  python3: 'python',
  py: 'python',
  javascript: 'javascript',
  js: 'javascript',
  node: 'javascript',
  typescript: 'typescript',
  ts: 'typescript',
};

/** What a kernel prints on its own stdout once it accepts cells (mitos_kernel.py / .mjs). */
export const KERNEL_READY_LINE = 'mitos-kernel-ready\n';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `ms`, or less when `event` happens first (the timer is cleared then). */
function sleepUntil(event: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void event.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export function normalizeLanguage(language: string | undefined): string | undefined {
  return LANGUAGE_ALIASES[(language ?? 'python').toLowerCase()];
}

export interface KernelHost {
  client(sandboxId: string): AgentClient;
  /** Start a long-running process in the sandbox and return its pid; rejects if it cannot start. */
  startKernelProcess(
    sandboxId: string,
    command: string,
    env: Record<string, string>,
  ): Promise<{ pid: number; exited: () => boolean; stderr: () => string; ready: Promise<void> }>;
}

export class KernelManager {
  /** pid of each running kernel, per sandbox and language. */
  private readonly pids = new Map<string, number>();
  private readonly starting = new Map<string, Promise<number>>();
  /** Pooled sandboxes' kernels started ahead that have run nothing: sandbox -> languages. */
  private readonly prestarted = new Map<string, Set<string>>();
  /**
   * What a kernel started ahead in a pooled sandbox has yet to learn, by key: it was started
   * under the pool's name and without its user's env. Its first cell carries them (handOut).
   */
  private readonly identities = new Map<string, Record<string, string>>();

  constructor(private readonly host: KernelHost) {}

  private key(sandboxId: string, language: string, context?: string): string {
    return `${sandboxId}\0${language}\0${context ?? ''}`;
  }

  forget(sandboxId: string): void {
    for (const k of [...this.pids.keys()]) if (k.startsWith(`${sandboxId}\0`)) this.pids.delete(k);
    for (const k of [...this.identities.keys()]) if (k.startsWith(`${sandboxId}\0`)) this.identities.delete(k);
    this.prestarted.delete(sandboxId);
  }

  /** Start a pooled sandbox's kernel ahead, so its user's first cell finds it running. */
  async prestart(sandboxId: string, language = 'python'): Promise<void> {
    await this.ensure(sandboxId, language);
    const languages = this.prestarted.get(sandboxId) ?? new Set<string>();
    languages.add(language);
    this.prestarted.set(sandboxId, languages);
  }

  /** Whether the sandbox's `language` kernel was started ahead and has run nothing yet. */
  isPrestarted(sandboxId: string, language: string): boolean {
    return this.prestarted.get(sandboxId)?.has(language) === true;
  }

  private settled(sandboxId: string, language: string): void {
    const languages = this.prestarted.get(sandboxId);
    languages?.delete(language);
    if (languages?.size === 0) this.prestarted.delete(sandboxId);
  }

  /**
   * A pooled sandbox renamed `toId` for its user (call before forgetting `fromId`). Returns what
   * moves its kernels started ahead to the new name, to call once the renamed sandbox answers.
   * Each kernel learns its sandbox's hostname and env with its first cell, which sets them before
   * running its code: no cell of its own, so nothing for that first cell to wait for. Random state
   * needs no reseed (not a copy: the pooled sandbox had its own entropy).
   */
  handOut(fromId: string, toId: string, env: Record<string, string> | undefined): () => void {
    const languages = this.prestarted.get(fromId);
    this.prestarted.delete(fromId);
    if (!languages) return () => {};
    const pids = [...languages].map((language) => [language, this.pids.get(this.key(fromId, language))] as const);
    return () => {
      this.prestarted.set(toId, new Set(languages));
      for (const [language, pid] of pids) {
        if (pid) this.pids.set(this.key(toId, language), pid);
        this.identities.set(this.key(toId, language), { ...env, HOSTNAME: toId });
      }
    };
  }

  /** Answering kernel's pid, or undefined. */
  async ping(sandboxId: string, language: string, context?: string): Promise<number | undefined> {
    const spec = kernelSpec(language, context);
    if (!spec) return undefined;
    let sock: Duplex;
    try {
      sock = await this.host.client(sandboxId).connectUnix(spec.socket);
    } catch {
      return undefined;
    }
    let pid: number | undefined;
    sock.write(`${JSON.stringify({ ping: true })}\n`);
    await readLines(sock, (l) => {
      if (l.kind === 'pong') pid = l.pid;
      return true;
    });
    sock.destroy();
    return pid;
  }

  /** Start the kernel unless one answers already (also after a server restart). */
  async ensure(
    sandboxId: string,
    language: string,
    extraEnv: Record<string, string> = {},
    context?: string,
  ): Promise<number> {
    const key = this.key(sandboxId, language, context);
    const inflight = this.starting.get(key);
    if (inflight) return inflight;
    const p = (async () => {
      const alive = await this.ping(sandboxId, language, context);
      if (alive) {
        this.pids.set(key, alive);
        return alive;
      }
      const spec = kernelSpec(language, context) as KernelSpec;
      const proc = await this.host.startKernelProcess(sandboxId, spec.command, { ...spec.env, ...extraEnv });
      const deadline = Date.now() + 30_000;
      // The kernel prints a line once its socket listens (or it exits): wait for that rather
      // than for the next poll. The polls remain for a kernel that says nothing.
      let readyOrExited = false;
      void proc.ready.then(() => {
        readyOrExited = true;
      });
      for (let wait = 2; Date.now() < deadline; wait = Math.min(wait * 2, 50)) {
        await (readyOrExited ? sleep(wait) : sleepUntil(proc.ready, wait));
        if (proc.exited()) {
          throw new MitosError(
            'kernel_unavailable',
            `the ${language} kernel exited at start: ${proc.stderr().trim().slice(-500) || 'no output'}`,
            {
              sandbox: sandboxId,
              language,
            },
          );
        }
        const pid = await this.ping(sandboxId, language, context);
        if (pid) {
          this.pids.set(key, pid);
          return pid;
        }
      }
      throw new MitosError('kernel_unavailable', `the ${language} kernel did not start within 30 s`, {
        sandbox: sandboxId,
        language,
      });
    })().finally(() => this.starting.delete(key));
    this.starting.set(key, p);
    return p;
  }

  async run(sandboxId: string, language: string, code: string, options: RunCodeOptions): Promise<RunCodeOutcome> {
    if (options.context !== undefined) return this.cell(sandboxId, language, code, options);
    this.settled(sandboxId, language);
    // Every cell carries the identity until one that carried it is answered: a second cell sent
    // at the same moment may reach the kernel first.
    const key = this.key(sandboxId, language);
    const identity = this.identities.get(key);
    const outcome = await this.cell(sandboxId, language, code, options, identity);
    if (identity && this.identities.get(key) === identity) this.identities.delete(key);
    return outcome;
  }

  /**
   * The kernel's socket: the known kernel's without a ping (the warm path), else after ensure.
   * A known kernel that is gone refuses the connection; it is then started again.
   */
  private async connect(sandboxId: string, language: string, context: string | undefined) {
    const spec = kernelSpec(language, context) as KernelSpec;
    const key = this.key(sandboxId, language, context);
    const known = this.pids.get(key);
    if (known !== undefined && !this.starting.has(key)) {
      const sock = await this.host
        .client(sandboxId)
        .connectUnix(spec.socket)
        .catch(() => undefined);
      if (sock) return { pid: known, sock };
      this.pids.delete(key);
    }
    const pid = await this.ensure(sandboxId, language, {}, context);
    return { pid, sock: await this.host.client(sandboxId).connectUnix(spec.socket) };
  }

  private async cell(
    sandboxId: string,
    language: string,
    code: string,
    options: RunCodeOptions,
    env?: Record<string, string>,
  ): Promise<RunCodeOutcome> {
    const started = performance.now();
    const { pid, sock } = await this.connect(sandboxId, language, options.context);
    const results: CodeResult[] = [];
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let error: CodeError | undefined;
    let exitCode = 1;
    let hostTimeout = false;
    // The kernel interrupts a cell itself at its deadline; this guard catches a kernel that
    // cannot (stuck in C code) and replaces it.
    const guard = setTimeout(() => {
      hostTimeout = true;
      void this.host
        .client(sandboxId)
        .signal(pid, 9)
        .catch(() => {});
      sock.destroy();
    }, options.timeoutMs + 5_000);
    const onAbort = () => {
      void this.host
        .client(sandboxId)
        .signal(pid, 2)
        .catch(() => {});
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    // `env`: set in the kernel's environment before the code runs (a kernel started ahead).
    sock.write(`${JSON.stringify({ code, timeout_ms: options.timeoutMs, env })}\n`);
    const how = await readLines(sock, (l) => {
      switch (l.kind) {
        case 'stdout':
        case 'stderr': {
          const data = Buffer.from(l[l.kind] ?? '', 'base64');
          (l.kind === 'stdout' ? stdout : stderr).push(data);
          (l.kind === 'stdout' ? options.onStdout : options.onStderr)?.(data);
          return false;
        }
        case 'result': {
          const r: CodeResult = { data: l.result?.data ?? {}, isMainResult: l.result?.main === true };
          if (r.isMainResult && l.result?.text) r.text = l.result.text;
          results.push(r);
          options.onResult?.(r);
          return false;
        }
        case 'error':
          error = { name: l.error?.name ?? 'Error', value: l.error?.value ?? '', traceback: l.error?.traceback ?? [] };
          return false;
        case 'exit':
          exitCode = l.exit_code ?? 0;
          return true;
        default:
          return false;
      }
    });
    clearTimeout(guard);
    options.signal?.removeEventListener('abort', onAbort);
    sock.destroy();
    if (how === 'closed') {
      this.pids.delete(this.key(sandboxId, language, options.context));
      error = hostTimeout
        ? {
            name: 'TimeoutError',
            value: `the kernel did not stop the cell within its ${options.timeoutMs / 1000} s deadline and was restarted; its variables are lost`,
            traceback: [],
          }
        : {
            name: 'KernelDied',
            value:
              'the kernel exited while running the cell (out of memory?); it restarts on the next call and its variables are lost',
            traceback: [],
          };
      exitCode = 1;
    }
    return {
      exitCode,
      results,
      stdout: Buffer.concat(stdout),
      stderr: Buffer.concat(stderr),
      error,
      durationMs: performance.now() - started,
    };
  }

  /** Ask a running python kernel to write its globals for a fork. Undefined if none runs. */
  async snapshot(sandboxId: string): Promise<{ saved: string[]; skipped: string[] } | undefined> {
    // A kernel started ahead that has run no cell holds nothing worth carrying.
    if (this.isPrestarted(sandboxId, 'python')) return undefined;
    const pid = await this.ping(sandboxId, 'python');
    if (!pid) return undefined;
    const sock = await this.host.client(sandboxId).connectUnix((KERNELS.python as KernelSpec).socket);
    let reply: KernelLine | undefined;
    sock.write(`${JSON.stringify({ snapshot: KERNEL_STATE_FILE })}\n`);
    await readLines(sock, (l) => {
      reply = l;
      return true;
    });
    sock.destroy();
    if (reply?.kind !== 'snapshot' || !reply.saved) return { saved: [], skipped: ['(kernel snapshot failed)'] };
    return { saved: reply.saved, skipped: reply.skipped ?? [] };
  }
}
