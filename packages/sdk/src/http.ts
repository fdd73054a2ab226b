/**
 * The one place requests are made: base URL, bearer auth, Idempotency-Key, JSON bodies,
 * the timeout clock combined with the caller's signal, and error responses turned into
 * typed errors. Nothing else in the SDK calls fetch.
 * @module
 */
import { redact } from '@mitos/protocol';
import { AgentRunError } from './errors.js';
import { errorFromResponse } from './response-error.js';

export interface RequestOptions {
  body?: unknown;
  idempotencyKey?: string | undefined;
  /** Milliseconds before the request is abandoned; 0 disables the clock. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

export class HttpClient {
  readonly baseUrl: string;
  /** Private so neither inspect(), JSON.stringify nor a spread ever exposes it. */
  readonly #apiKey: string | undefined;
  /** The caller's override for non-exec calls; each call site has its own default. */
  readonly #timeoutMs: number | undefined;

  constructor(opts: { baseUrl: string; apiKey?: string | undefined; timeoutMs?: number | undefined }) {
    this.baseUrl = checkBaseUrl(opts.baseUrl);
    this.#apiKey = opts.apiKey || undefined;
    if (opts.timeoutMs !== undefined && !(Number.isFinite(opts.timeoutMs) && opts.timeoutMs >= 0)) {
      throw new AgentRunError({
        code: 'invalid_request',
        message: 'invalid timeoutMs',
        cause: `timeoutMs must be a number >= 0, got ${String(opts.timeoutMs)}`,
        remediation: 'pass timeoutMs in milliseconds (0 disables the client-side timeout)',
        context: { field: 'timeoutMs' },
      });
    }
    this.#timeoutMs = opts.timeoutMs;
  }

  get hasApiKey(): boolean {
    return this.#apiKey !== undefined;
  }

  /** The caller's timeout if one was given, else the call site's default. */
  timeoutOr(defaultMs: number): number {
    return this.#timeoutMs ?? defaultMs;
  }

  /** Redact the key from text that may be shown to a user. */
  redact(text: string): string {
    return redact(text, [this.#apiKey]);
  }

  /**
   * Send one request and parse the JSON answer. Non-2xx answers throw the error class
   * chosen by the envelope code; an empty 2xx body resolves to undefined.
   */
  async request<T>(method: string, path: string, opts: RequestOptions): Promise<T> {
    const user = opts.signal;
    // Reject before any I/O, with the caller's own reason (as fetch and undici do).
    if (user?.aborted) throw user.reason;
    const clock = opts.timeoutMs > 0 ? AbortSignal.timeout(opts.timeoutMs) : undefined;
    const signal = clock && user ? AbortSignal.any([clock, user]) : (clock ?? user);

    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#apiKey) headers.authorization = `Bearer ${this.#apiKey}`;
    if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }

    let status: number;
    let text: string;
    try {
      const res = await fetch(this.baseUrl + path, { method, headers, body, signal });
      status = res.status;
      text = await res.text();
    } catch (err) {
      if (user?.aborted) throw user.reason;
      if (clock?.aborted) throw this.#timeoutError(method, path, opts.timeoutMs, err);
      throw this.#connectionError(err);
    }

    if (status < 200 || status > 299) throw errorFromResponse(status, text, [this.#apiKey]);
    if (text.trim() === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw invalidResponse(
        `${method} ${path} answered ${status} with a body that is not JSON: ${this.redact(text).slice(0, 200)}`,
        err,
      );
    }
  }

  #timeoutError(method: string, path: string, ms: number, err: unknown): AgentRunError {
    return new AgentRunError(
      {
        code: 'request_timeout',
        message: 'the server did not answer in time',
        cause: `${method} ${path} got no complete answer from ${this.baseUrl} within ${ms} ms`,
        remediation: 'raise timeoutMs, or check the server is healthy with `mitos doctor`',
        context: { timeout_ms: ms },
      },
      { cause: err },
    );
  }

  #connectionError(err: unknown): AgentRunError {
    return new AgentRunError(
      {
        code: 'connection_failed',
        message: `could not reach the mitos server at ${this.baseUrl}`,
        cause: this.redact(describeNetworkError(err)),
        remediation:
          'start a local server with `mitos serve`, or point MITOS_BASE_URL (or --base-url) at a running server',
        context: { base_url: this.baseUrl },
      },
      { cause: err },
    );
  }

  [INSPECT](): string {
    return `HttpClient { baseUrl: '${this.baseUrl}', apiKey: ${this.#apiKey ? "'[REDACTED]'" : 'none'} }`;
  }
}

export function invalidResponse(cause: string, err?: unknown): AgentRunError {
  return new AgentRunError(
    {
      code: 'invalid_response',
      message: 'the server answered with an unexpected body',
      cause,
      remediation: 'check that the base URL points at a mitos server of a compatible version',
    },
    err === undefined ? undefined : { cause: err },
  );
}

function checkBaseUrl(raw: string): string {
  const baseUrl = raw.replace(/\/+$/, '');
  let url: URL | undefined;
  try {
    url = new URL(baseUrl);
  } catch {
    url = undefined;
  }
  if (url && (url.protocol === 'http:' || url.protocol === 'https:') && !url.search && !url.hash) return baseUrl;
  throw new AgentRunError({
    code: 'invalid_base_url',
    message: 'the base URL is not a valid http(s) URL',
    cause: `got ${JSON.stringify(raw)}`,
    remediation: 'set MITOS_BASE_URL (or --base-url) to e.g. http://127.0.0.1:8080',
  });
}

/** fetch wraps the socket error (ECONNREFUSED, ENOTFOUND, ...) in a generic TypeError. */
function describeNetworkError(err: unknown): string {
  const inner = (err as { cause?: unknown } | undefined)?.cause;
  for (const e of [inner, err]) {
    if (e instanceof Error) {
      const code = (e as { code?: unknown }).code;
      return typeof code === 'string' && !e.message.includes(code) ? `${code}: ${e.message}` : e.message;
    }
  }
  return String(err);
}
