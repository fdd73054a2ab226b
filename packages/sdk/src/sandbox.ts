/**
 * A handle on one running sandbox. Every call goes to the server's base URL and names
 * the sandbox in the body (wire-v1.md 1.4). The methods are thin: each concern lives in
 * its own module (exec-stream, processes, pty, code/, fork, lifecycle, ports).
 * @module
 */
import { DEFAULT_EXEC_TIMEOUT_SECONDS } from '@mitos/protocol/client';
import type { BackgroundProcess } from './background.js';
import type { Execution } from './code/execution.js';
import { type RunCodeOptions, runCode } from './code/run-code.js';
import { resolveConfig } from './config.js';
import { NotFoundError } from './errors.js';
import { type ExecEvent, execBody, execWithCallbacks, streamExec } from './exec-stream.js';
import { DEFAULT_SANDBOX_CALL_TIMEOUT_MS, SandboxFiles } from './files.js';
import { type ForkReport, type LiveForkOptions, liveFork } from './fork.js';
import { HttpClient } from './http.js';
import { describeSandbox, setLifetime, setRunState } from './lifecycle.js';
import {
  closeForward,
  type Forward,
  type ForwardOptions,
  forwardPort,
  listForwards,
  type Preview,
  previewPort,
} from './ports.js';
import { type BackgroundOptions, SandboxProcesses } from './processes.js';
import { checkSize, openPty, type PtyHandle, type PtyOptions, ptyPath } from './pty.js';
import { fromWireNetwork, toExecResult, toSandboxList, toWireNetwork } from './records.js';
import type {
  CallOptions,
  ClientOptions,
  ExecOptions,
  ExecResult,
  Network,
  SandboxDetails,
  SandboxInfo,
  TerminateOptions,
} from './types.js';
import { assertId, assertTimeoutSeconds } from './validate.js';

export type { ExecOptions } from './types.js';

/** Slack between the command's deadline and the HTTP clock, so the server reports first. */
const EXEC_HTTP_SLACK_MS = 5_000;
const LIST_TIMEOUT_MS = 60_000;

export class Sandbox implements AsyncDisposable {
  readonly id: string;
  readonly templateId: string;
  /** Server-measured fork time in ms (0 when unknown, e.g. after connect). */
  readonly forkTimeMs: number;
  readonly createdAt: string | undefined;
  readonly files: SandboxFiles;
  /** Background processes: list, signal, reattach. */
  readonly processes: SandboxProcesses;
  readonly #http: HttpClient;

  /** @internal Use `create()`, `Sandbox.connect()` or `SandboxServer.fork()`. */
  constructor(info: SandboxInfo, http: HttpClient) {
    assertId(info.id, 'sandbox');
    this.id = info.id;
    this.templateId = info.templateId;
    this.forkTimeMs = info.forkTimeMs;
    this.createdAt = info.createdAt;
    this.#http = http;
    this.files = new SandboxFiles(this.#http, this.id);
    this.processes = new SandboxProcesses(this.#http, this.id);
  }

  /**
   * Attach to an existing sandbox by id.
   * @throws NotFoundError when the server does not list it.
   * @example const sb = await Sandbox.connect('sandbox-1a2b3c4d');
   */
  static async connect(id: string, opts: ClientOptions & CallOptions = {}): Promise<Sandbox> {
    assertId(id, 'sandbox');
    const { baseUrl, apiKey } = resolveConfig(opts);
    const http = new HttpClient({ baseUrl, apiKey, timeoutMs: opts.timeoutMs });
    const raw = await http.request<unknown>('GET', '/v1/sandboxes', {
      timeoutMs: http.timeoutOr(LIST_TIMEOUT_MS),
      signal: opts.signal,
    });
    const info = toSandboxList(raw).find((s) => s.id === id);
    if (!info) {
      throw new NotFoundError({
        code: 'not_found',
        message: 'the requested resource does not exist',
        cause: `sandbox "${id}" is not listed by ${baseUrl}`,
        remediation: 'confirm the id with `mitos sandbox ls`; terminated sandboxes cannot be reattached',
        status: 404,
        context: { sandbox: id },
      });
    }
    return new Sandbox(info, http);
  }

  get baseUrl(): string {
    return this.#http.baseUrl;
  }

  /**
   * Run `command` with `/bin/sh -c` and wait for it. A non-zero exit code is a normal
   * result; running past the timeout throws ExecutionDeadlineError. With `onStdout` or
   * `onStderr` the output is delivered as it arrives (over /v1/exec/stream) and the result
   * still carries all of it. Aborting `signal` drops the connection and the server kills
   * the command's process group.
   * @example const { stdout } = await sb.exec('python -c "print(2 + 2)"');
   * @example await sb.exec('pytest -x', { onStdout: (b) => process.stdout.write(b) });
   */
  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const timeout = opts.timeoutSeconds ?? DEFAULT_EXEC_TIMEOUT_SECONDS;
    assertTimeoutSeconds(timeout);
    if (opts.onStdout || opts.onStderr) return execWithCallbacks(this.#http, this.id, command, timeout, opts);
    const raw = await this.#http.request<unknown>('POST', '/v1/exec', {
      body: execBody(this.id, command, timeout, opts),
      timeoutMs: (timeout || DEFAULT_EXEC_TIMEOUT_SECONDS) * 1000 + EXEC_HTTP_SLACK_MS,
      signal: opts.signal,
    });
    return toExecResult(raw);
  }

  /**
   * Run `command` and iterate its output: `{stream, data}` chunks as they arrive, then one
   * `{exit}` with the aggregate result. Leaving the loop early (break, throw) cancels the
   * command. Exit 124 (the deadline) throws ExecutionDeadlineError, as exec() does.
   * @example
   * for await (const ev of sb.execStream('make test')) {
   *   if ('exit' in ev) console.log('status', ev.exit.exitCode);
   *   else process[ev.stream].write(ev.data);
   * }
   */
  execStream(
    command: string,
    opts: Omit<ExecOptions, 'onStdout' | 'onStderr'> = {},
  ): AsyncGenerator<ExecEvent, void, undefined> {
    const timeout = opts.timeoutSeconds ?? DEFAULT_EXEC_TIMEOUT_SECONDS;
    // Checked now, so a bad timeout throws at the call rather than at the first iteration.
    assertTimeoutSeconds(timeout);
    return streamExec(this.#http, this.id, command, timeout, opts);
  }

  /**
   * Start `command` in the background: no deadline, keeps running when this client goes
   * away. Same as `sandbox.processes.start()`.
   * @example
   * const dev = await sb.execBackground('npm run dev', { onStdout: (b) => process.stdout.write(b) });
   * // ...
   * await dev.kill();
   */
  execBackground(command: string, opts: BackgroundOptions = {}): Promise<BackgroundProcess> {
    return this.processes.start(command, opts);
  }

  /**
   * Open an interactive terminal (`/bin/sh`, TERM=xterm-256color) of `cols` x `rows`
   * (default 80 x 24). Resolves once it is connected.
   * @example
   * const pty = await sb.createPty({ onData: (b) => process.stdout.write(b) });
   * pty.sendInput('ls -la\nexit\n');
   * console.log('exit status', await pty.wait());
   */
  createPty(opts: PtyOptions = {}): Promise<PtyHandle> {
    return openPty(this.#http, this.id, opts);
  }

  /** The terminal's WebSocket URL (for other clients). The API key is never in it: send it as a bearer header. */
  ptyUrl(cols = 80, rows = 24): string {
    checkSize(cols, rows);
    return this.#http.wsUrl(ptyPath(this.id, cols, rows));
  }

  /**
   * Run a cell in the sandbox's stateful kernel (variables persist between calls).
   * @example
   * const ex = await sb.runCode('import math; math.sqrt(144)');
   * console.log(ex.text); // 12.0
   */
  runCode(code: string, opts: RunCodeOptions = {}): Promise<Execution> {
    return runCode(this.#http, this.id, code, opts);
  }

  /**
   * Terminate the sandbox `seconds` from now (1..86400), replacing any earlier deadline.
   * Resolves with the deadline in unix seconds.
   * @throws TimeoutTooLargeError above 86400, without a request.
   */
  setTimeout(seconds: number, opts: CallOptions = {}): Promise<number> {
    return setLifetime(this.#http, this.id, seconds, opts);
  }

  /** Freeze every process (no CPU; memory and files kept). Calls other than resume and terminate then fail with SandboxNotRunningError. */
  pause(opts: CallOptions = {}): Promise<void> {
    return setRunState(this.#http, this.id, 'pause', opts);
  }

  /** Thaw a paused sandbox; resuming a running one is fine. */
  resume(opts: CallOptions = {}): Promise<void> {
    return setRunState(this.#http, this.id, 'resume', opts);
  }

  /** The sandbox's current record: state, lineage, deadline. */
  info(opts: CallOptions = {}): Promise<SandboxDetails> {
    return describeSandbox(this.#http, this.id, opts);
  }

  /**
   * A signed URL that reaches `port` inside the sandbox through the server's proxy.
   * @example const url = await sb.getHost(8000);
   */
  async getHost(port = 80, opts: CallOptions = {}): Promise<string> {
    return (await previewPort(this.#http, this.id, port, opts)).url;
  }

  /** Like getHost(), with the URL's expiry. */
  preview(port = 80, opts: CallOptions = {}): Promise<Preview> {
    return previewPort(this.#http, this.id, port, opts);
  }

  /** Open a loopback listener on the server host bridged to `port` inside the sandbox. */
  forward(port: number, opts: ForwardOptions = {}): Promise<Forward> {
    return forwardPort(this.#http, this.id, port, opts);
  }

  /** The sandbox's open forwards. */
  forwards(opts: CallOptions = {}): Promise<Forward[]> {
    return listForwards(this.#http, this.id, opts);
  }

  /** Close a forward by the `host` forward() returned (or its port); its connections are cut. */
  closeForward(host: string | number, opts: CallOptions = {}): Promise<void> {
    return closeForward(this.#http, this.id, host, opts);
  }

  /**
   * Branch this running sandbox into `n` (1..64) children that start from its current
   * files, processes and interpreter state as the server can carry them.
   * See {@link Sandbox.forkWithReport} for what was carried.
   * @example const [a, b] = await sb.fork(2);
   */
  async fork(n = 1, opts: LiveForkOptions = {}): Promise<Sandbox[]> {
    return (await this.forkWithReport(n, opts)).children;
  }

  /** fork(), plus the parent's record, the fork time and what was carried into the children. */
  forkWithReport(n = 1, opts: LiveForkOptions = {}): Promise<ForkReport> {
    return liveFork(this.#http, this.id, n, opts, (info) => new Sandbox(info, this.#http));
  }

  /** The sandbox's effective network posture. */
  async network(opts: CallOptions = {}): Promise<Network> {
    const path = `/v1/sandboxes/${encodeURIComponent(this.id)}/network`;
    const raw = await this.#http.request<unknown>('GET', path, {
      timeoutMs: this.#http.timeoutOr(DEFAULT_SANDBOX_CALL_TIMEOUT_MS),
      signal: opts.signal,
    });
    return fromWireNetwork(raw);
  }

  /**
   * Change the posture while the sandbox runs: new connections follow it at once, connections
   * opened under the old one are cut. Answers the new effective posture.
   * @example await sb.setNetwork({ allowDomains: ['pypi.org:443', 'files.pythonhosted.org:443'] });
   */
  async setNetwork(network: Network, opts: CallOptions = {}): Promise<Network> {
    const path = `/v1/sandboxes/${encodeURIComponent(this.id)}/network`;
    const raw = await this.#http.request<unknown>('PUT', path, {
      body: toWireNetwork(network),
      timeoutMs: this.#http.timeoutOr(DEFAULT_SANDBOX_CALL_TIMEOUT_MS),
      signal: opts.signal,
    });
    return fromWireNetwork(raw);
  }

  /** Stop and delete the sandbox. Idempotent: an already-gone sandbox is not an error. */
  async terminate(opts: TerminateOptions = {}): Promise<void> {
    const query = opts.wait === false ? '?wait=false' : '';
    try {
      await this.#http.request('DELETE', `/v1/sandboxes/${encodeURIComponent(this.id)}${query}`, {
        timeoutMs: this.#http.timeoutOr(DEFAULT_SANDBOX_CALL_TIMEOUT_MS),
        signal: opts.signal,
      });
    } catch (err) {
      if (err instanceof NotFoundError || (err as { status?: unknown }).status === 404) return;
      throw err;
    }
  }

  /** `await using sb = await create()` terminates the sandbox when the scope ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.terminate();
  }

  /** What `JSON.stringify(sandbox)` shows: identity only, never credentials. */
  toJSON(): { id: string; templateId: string; forkTimeMs: number; createdAt: string | undefined; baseUrl: string } {
    return {
      id: this.id,
      templateId: this.templateId,
      forkTimeMs: this.forkTimeMs,
      createdAt: this.createdAt,
      baseUrl: this.baseUrl,
    };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Sandbox { id: '${this.id}', templateId: '${this.templateId}', baseUrl: '${this.baseUrl}' }`;
  }
}
