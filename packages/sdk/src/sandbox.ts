/**
 * A handle on one running sandbox. Every call goes to the server's base URL and names
 * the sandbox in the body (wire-v1.md 1.4).
 * @module
 */
import { DEFAULT_EXEC_TIMEOUT_SECONDS } from '@mitos/protocol';
import { resolveConfig } from './config.js';
import { NotFoundError } from './errors.js';
import { DEFAULT_SANDBOX_CALL_TIMEOUT_MS, SandboxFiles } from './files.js';
import { HttpClient } from './http.js';
import { toExecResult, toSandboxList } from './records.js';
import type { CallOptions, ClientOptions, ExecResult, SandboxInfo } from './types.js';
import { assertId, assertTimeoutSeconds } from './validate.js';

/** Slack between the command's deadline and the HTTP clock, so the server reports first. */
const EXEC_HTTP_SLACK_MS = 5_000;
const LIST_TIMEOUT_MS = 60_000;

export interface ExecOptions extends CallOptions {
  /** Kill the command after this many seconds (default 30, at most 86400). */
  timeoutSeconds?: number;
  /** Working directory (server default `/workspace`). */
  cwd?: string;
  env?: Record<string, string>;
}

export class Sandbox implements AsyncDisposable {
  readonly id: string;
  readonly templateId: string;
  /** Server-measured fork time in ms (0 when unknown, e.g. after connect). */
  readonly forkTimeMs: number;
  readonly createdAt: string | undefined;
  readonly files: SandboxFiles;
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
   * result; running past the timeout throws ExecutionDeadlineError.
   * @example const { stdout } = await sb.exec('python -c "print(2 + 2)"');
   */
  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const timeout = opts.timeoutSeconds ?? DEFAULT_EXEC_TIMEOUT_SECONDS;
    assertTimeoutSeconds(timeout);
    const body: Record<string, unknown> = { sandbox: this.id, command, timeout };
    if (opts.cwd) body.working_dir = opts.cwd;
    if (opts.env && Object.keys(opts.env).length > 0) body.env = opts.env;
    const raw = await this.#http.request<unknown>('POST', '/v1/exec', {
      body,
      timeoutMs: (timeout || DEFAULT_EXEC_TIMEOUT_SECONDS) * 1000 + EXEC_HTTP_SLACK_MS,
      signal: opts.signal,
    });
    return toExecResult(raw);
  }

  /** Stop and delete the sandbox. Idempotent: an already-gone sandbox is not an error. */
  async terminate(opts: CallOptions = {}): Promise<void> {
    try {
      await this.#http.request('DELETE', `/v1/sandboxes/${encodeURIComponent(this.id)}`, {
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
