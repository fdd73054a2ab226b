/**
 * `sandbox.processes`: start, list, signal and reattach to background processes
 * (docs/api-extensions.md, Background processes).
 * @module
 */
import { BackgroundProcess, type ProcessCallbacks } from './background.js';
import { AgentRunError } from './errors.js';
import { OutputCollector, parseExecLine, withCommandOptions } from './exec-stream.js';
import { DEFAULT_SANDBOX_CALL_TIMEOUT_MS } from './files.js';
import { type HttpClient, invalidResponse } from './http.js';
import { ndjsonObjects } from './ndjson.js';
import { type SignalLike, signalNumber } from './signals.js';
import type { CallOptions } from './types.js';

export interface BackgroundOptions extends CallOptions, ProcessCallbacks {
  /** Working directory (server default `/workspace`). */
  cwd?: string;
  env?: Record<string, string>;
}

/** What a tracked process has printed (its last 1 MiB), and its exit status once it has exited. */
export interface ProcessLogs {
  pid: number;
  stdout: string;
  stderr: string;
  /** Undefined while the process still runs. */
  exitCode: number | undefined;
}

export interface ProcessInfo {
  pid: number;
  command: string;
  /** True for processes started with execBackground, which can be followed and waited on. */
  tracked: boolean;
  startedAt: Date | undefined;
}

export class SandboxProcesses {
  readonly #http: HttpClient;
  readonly #sandbox: string;

  /** @internal Use `sandbox.processes`. */
  constructor(http: HttpClient, sandboxId: string) {
    this.#http = http;
    this.#sandbox = sandboxId;
  }

  /**
   * Start `command` with `/bin/sh -c` in the background and follow its output. The
   * process has no deadline and outlives this client. Aborting `signal` before this resolves
   * cancels the start (a process already started is killed); aborting it later only stops
   * listening, and wait() rejects with the abort reason.
   * @example
   * const server = await sb.processes.start('python -m http.server 8000');
   * await server.kill('SIGTERM');
   */
  async start(command: string, opts: BackgroundOptions = {}): Promise<BackgroundProcess> {
    const body = withCommandOptions({ sandbox: this.#sandbox, command }, opts);
    const raw = await this.#http.request<unknown>('POST', '/v1/processes', {
      body,
      timeoutMs: this.#http.timeoutOr(DEFAULT_SANDBOX_CALL_TIMEOUT_MS),
      signal: opts.signal,
    });
    const pid = (raw as { pid?: unknown } | undefined)?.pid;
    if (typeof pid !== 'number' || !Number.isInteger(pid)) throw invalidResponse('the process start lacks "pid"');
    try {
      return await this.connect(pid, opts);
    } catch (err) {
      // The caller gets no handle, so nobody could ever stop this process: end it here.
      await this.signal(pid, 'SIGKILL').catch(() => {});
      throw err;
    }
  }

  /** Processes running in the sandbox, tracked or not. */
  async list(opts: CallOptions = {}): Promise<ProcessInfo[]> {
    const raw = await this.#http.request<unknown>('GET', `/v1/processes?sandbox=${encodeURIComponent(this.#sandbox)}`, {
      timeoutMs: this.#http.timeoutOr(DEFAULT_SANDBOX_CALL_TIMEOUT_MS),
      signal: opts.signal,
    });
    const list = (raw as { processes?: unknown } | undefined)?.processes;
    if (!Array.isArray(list)) throw invalidResponse('the process list lacks a "processes" array');
    return list.map(toProcessInfo);
  }

  /**
   * Send `sig` (default SIGKILL) to process `pid`.
   * @throws NotFoundError when no such process exists.
   */
  async signal(pid: number, sig: SignalLike = 'SIGKILL', opts: CallOptions = {}): Promise<void> {
    assertPid(pid);
    await this.#http.request('POST', '/v1/processes/signal', {
      body: { sandbox: this.#sandbox, pid, signal: signalNumber(sig) },
      timeoutMs: this.#http.timeoutOr(DEFAULT_SANDBOX_CALL_TIMEOUT_MS),
      signal: opts.signal,
    });
  }

  /**
   * Follow a process started with execBackground, by this or another client. Its output so
   * far is replayed to the callbacks, then live output follows.
   * @throws NotFoundError when the pid is not a tracked process.
   */
  async connect(pid: number, opts: ProcessCallbacks & CallOptions = {}): Promise<BackgroundProcess> {
    assertPid(pid);
    const stream = await this.#http.stream('POST', '/v1/processes/stream', {
      body: { sandbox: this.#sandbox, pid },
      // A background process may be silent for hours; its stream has no idle clock.
      idleTimeoutMs: 0,
      signal: opts.signal,
    });
    return new BackgroundProcess({
      pid,
      sandbox: this.#sandbox,
      stream,
      signal: (p, sig) => this.signal(p, sig),
      onStdout: opts.onStdout,
      onStderr: opts.onStderr,
    });
  }

  /**
   * The output a tracked process has printed so far, without following it (use connect() to
   * follow). Works after it exited too, until the sandbox ends.
   * @throws NotFoundError when the pid is not a tracked process.
   */
  async logs(pid: number, opts: CallOptions = {}): Promise<ProcessLogs> {
    assertPid(pid);
    const stream = await this.#http.stream('POST', '/v1/processes/stream', {
      body: { sandbox: this.#sandbox, pid, follow: false },
      idleTimeoutMs: this.#http.timeoutOr(DEFAULT_SANDBOX_CALL_TIMEOUT_MS),
      signal: opts.signal,
    });
    const output = new OutputCollector();
    let exitCode: number | undefined;
    for await (const line of ndjsonObjects(stream, 'a process log')) {
      const frame = parseExecLine(line);
      if ('terminal' in frame) {
        exitCode = frame.terminal.exitCode;
        break;
      }
      output.push(frame);
    }
    return { pid, stdout: output.stdout, stderr: output.stderr, exitCode };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `SandboxProcesses { sandbox: '${this.#sandbox}' }`;
  }
}

function toProcessInfo(value: unknown): ProcessInfo {
  const r = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if (typeof r.pid !== 'number') throw invalidResponse('a process entry lacks a numeric "pid"');
  const started = r.started_at;
  const startedAt =
    typeof started === 'number'
      ? new Date(started * 1000)
      : typeof started === 'string'
        ? new Date(started)
        : undefined;
  return {
    pid: r.pid,
    command: typeof r.command === 'string' ? r.command : '',
    tracked: r.tracked === true,
    startedAt: startedAt && !Number.isNaN(startedAt.getTime()) ? startedAt : undefined,
  };
}

function assertPid(pid: unknown): asserts pid is number {
  if (typeof pid === 'number' && Number.isInteger(pid) && pid > 0) return;
  throw new AgentRunError({
    code: 'invalid_request',
    message: 'invalid pid',
    cause: `a pid is a positive whole number, got ${String(pid)}`,
    remediation: 'use a pid from execBackground() or sandbox.processes.list()',
    context: { field: 'pid' },
  });
}
