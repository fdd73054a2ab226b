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

interface KernelLine {
  kind: string;
  stdout?: string;
  stderr?: string;
  result?: { text?: string; data?: Record<string, string>; main?: boolean };
  error?: { name?: string; value?: string; traceback?: string[] };
  exit_code?: number;
  pid?: number;
  saved?: string[];
  skipped?: string[];
}

/** Read JSON lines from a socket until `stop` says so or it closes. */
function readLines(sock: Duplex, onLine: (line: KernelLine) => boolean): Promise<'stopped' | 'closed'> {
  return new Promise((resolve) => {
    let buf = '';
    let done = false;
    const finish = (how: 'stopped' | 'closed') => {
      if (done) return;
      done = true;
      resolve(how);
    };
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0 && !done; nl = buf.indexOf('\n')) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!text.trim()) continue;
        let line: KernelLine;
        try {
          line = JSON.parse(text) as KernelLine;
        } catch {
          continue;
        }
        if (onLine(line)) finish('stopped');
      }
    });
    sock.on('close', () => finish('closed'));
    sock.on('error', () => finish('closed'));
    sock.resume();
  });
}

export class KernelManager {
  /** pid of each running kernel, per sandbox and language. */
  private readonly pids = new Map<string, number>();
  private readonly starting = new Map<string, Promise<number>>();

  constructor(private readonly host: KernelHost) {}

  private key(sandboxId: string, language: string, context?: string): string {
    return `${sandboxId}\0${language}\0${context ?? ''}`;
  }

  forget(sandboxId: string): void {
    for (const k of [...this.pids.keys()]) if (k.startsWith(`${sandboxId}\0`)) this.pids.delete(k);
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
    const started = performance.now();
    const pid = await this.ensure(sandboxId, language, {}, options.context);
    const spec = kernelSpec(language, options.context) as KernelSpec;
    const sock = await this.host.client(sandboxId).connectUnix(spec.socket);
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
    sock.write(`${JSON.stringify({ code, timeout_ms: options.timeoutMs })}\n`);
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
