/**
 * The one place requests are made: base URL, bearer auth, Idempotency-Key, JSON bodies,
 * the timeout clock combined with the caller's signal, and error responses turned into
 * typed errors. Nothing else in the SDK sends a request or opens a WebSocket; every request
 * goes over node's HTTP client (http-transport.ts), never fetch.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { redact } from '@mitos/protocol/client';
import type { WebSocket } from 'ws';
import { AgentRunError } from './errors.js';
import { openStream, sendRequest } from './http-transport.js';
import { errorFromResponse, looksLikeHtml, notMitosServer } from './response-error.js';
import { ResponseStream } from './response-stream.js';
import { blockedPort, describeNetworkError } from './transport-error.js';

export interface RequestOptions {
  body?: unknown;
  idempotencyKey?: string | undefined;
  /** Milliseconds before the request is abandoned; 0 disables the clock. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

export interface StreamRequestOptions {
  body?: unknown;
  /**
   * Milliseconds of silence (before the response head, or between two body chunks) after
   * which the stream is abandoned; 0 disables the clock. Re-armed on every chunk, so a long
   * but chatty stream never trips it.
   */
  idleTimeoutMs: number;
  signal?: AbortSignal | undefined;
}

export interface WebSocketOptions {
  protocol: string;
  /**
   * Called with the new socket before any of its events can fire. Attach message listeners
   * here: a server may send its first frames together with the handshake, and ws delivers
   * them before an `await` on the returned promise would resume.
   */
  prepare?: (ws: WebSocket) => void;
  /** Milliseconds for the whole opening handshake. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');
/** An error response to a stream request is an envelope; more than this is not worth reading. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

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
    const clock = opts.timeoutMs > 0 ? callClock(opts.timeoutMs) : undefined;
    const signal = clock && user ? AbortSignal.any([clock.signal, user]) : (clock?.signal ?? user);

    const headers = this.#headers();
    headers.accept = 'application/json';
    if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
    let body: string | Uint8Array | undefined;
    if (opts.body instanceof Uint8Array) {
      // Raw bytes (a build-context blob), sent as they are.
      headers['content-type'] = 'application/octet-stream';
      body = opts.body;
    } else if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }

    let status: number;
    let text: string;
    try {
      ({ status, text } = await sendRequest(new URL(this.baseUrl + path), { method, headers, body, signal }));
    } catch (err) {
      if (user?.aborted) throw user.reason;
      if (clock?.signal.aborted) throw this.#timeoutError(method, path, opts.timeoutMs, err);
      throw this.#connectionError(err);
    } finally {
      clock?.stop();
    }

    if (status < 200 || status > 299) throw errorFromResponse(status, text, [this.#apiKey]);
    if (text.trim() === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      if (looksLikeHtml(text)) throw notMitosServer(status, this.redact(text));
      throw invalidResponse(
        `${method} ${path} answered ${status} with a body that is not JSON: ${this.redact(text).slice(0, 200)}`,
        err,
      );
    }
  }

  /**
   * Start a streaming request (NDJSON) and resolve once a 2xx response head arrived. The
   * body is read by iterating the returned stream; closing it (or breaking out of the loop)
   * drops the connection, which is how the server learns the client went away.
   */
  async stream(method: string, path: string, opts: StreamRequestOptions): Promise<ResponseStream> {
    const user = opts.signal;
    if (user?.aborted) throw user.reason;
    const headers = this.#headers();
    headers.accept = 'application/x-ndjson, application/json';
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    const stream = new ResponseStream({
      user,
      idleTimeoutMs: opts.idleTimeoutMs,
      idleError: () => this.#idleError(method, path, opts.idleTimeoutMs),
      redact: (text) => this.redact(text),
    });
    let res: IncomingMessage;
    try {
      res = await openStream(new URL(this.baseUrl + path), { method, headers, body, signal: stream.signal });
    } catch (err) {
      stream.close();
      throw stream.failure() ?? this.#connectionError(err);
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) {
      const text = await readSome(res, MAX_ERROR_BODY_BYTES).catch(() => '');
      stream.close();
      throw errorFromResponse(status, text, [this.#apiKey]);
    }
    stream.attach(res);
    return stream;
  }

  /** The WebSocket URL for `path` (ws:// or wss:// from the base URL). Never carries the key. */
  wsUrl(path: string): string {
    return this.baseUrl.replace(/^http/, 'ws') + path;
  }

  /**
   * Open a WebSocket with the bearer in the upgrade's Authorization header, offering exactly
   * `protocol` and insisting the server selects it. Resolves once the socket is open.
   */
  async openWebSocket(path: string, opts: WebSocketOptions): Promise<WebSocket> {
    const user = opts.signal;
    if (user?.aborted) throw user.reason;
    // Loaded here, not at import: only terminals use it, and every client start would pay for it.
    const { WebSocket: Socket } = await import('ws');
    if (user?.aborted) throw user.reason;
    const headers = this.#headers();
    // Compression buys nothing for keystrokes and costs a zlib context per terminal.
    const ws = new Socket(this.wsUrl(path), [opts.protocol], { headers, perMessageDeflate: false });
    return new Promise<WebSocket>((resolve, reject) => {
      let settled = false;
      const finish = (failed: boolean, err?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        user?.removeEventListener('abort', onAbort);
        ws.off('open', onOpen);
        ws.off('unexpected-response', onResponse);
        ws.off('error', onError);
        if (!failed) {
          resolve(ws);
          return;
        }
        ws.terminate();
        reject(err);
      };
      const fail = (err: unknown): void => finish(true, err);
      const onAbort = (): void => fail(user?.reason);
      const onOpen = (): void => {
        // ws already rejects a missing or unexpected protocol; this guards a future relaxation.
        if (ws.protocol === opts.protocol) finish(false);
        else
          fail(invalidResponse(`the server selected WebSocket subprotocol "${ws.protocol}", not "${opts.protocol}"`));
      };
      const onResponse = (_req: unknown, res: IncomingMessage): void => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_ERROR_BODY_BYTES) chunks.push(c);
        });
        const done = (): void =>
          fail(errorFromResponse(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), [this.#apiKey]));
        res.once('end', done);
        res.once('error', done);
      };
      const onError = (err: Error): void => {
        const protocolRefused = /subprotocol/i.test(err.message);
        fail(
          protocolRefused
            ? invalidResponse(
                `the server did not accept the WebSocket subprotocol "${opts.protocol}": ${err.message}`,
                err,
              )
            : this.#connectionError(err),
        );
      };
      // Errors after the handshake belong to the session owner, but an 'error' event with no
      // listener would crash the process, so one stays attached for the socket's whole life.
      ws.on('error', () => {});
      opts.prepare?.(ws);
      ws.on('open', onOpen);
      ws.on('unexpected-response', onResponse);
      ws.on('error', onError);
      user?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(
        () => fail(this.#timeoutError('GET', path.split('?')[0] ?? path, opts.timeoutMs, undefined)),
        opts.timeoutMs,
      );
    });
  }

  #headers(): Record<string, string> {
    const headers: Record<string, string> = {};
    if (this.#apiKey) headers.authorization = `Bearer ${this.#apiKey}`;
    return headers;
  }

  #idleError(method: string, path: string, ms: number): AgentRunError {
    return new AgentRunError({
      code: 'request_timeout',
      message: 'the server went silent in the middle of a stream',
      cause: `${method} ${path} sent nothing for ${ms} ms`,
      remediation: 'raise the call timeout, or check the server is healthy with `mitos doctor`',
      context: { idle_timeout_ms: ms },
    });
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
        remediation: blockedPort(err)
          ? `port ${new URL(this.baseUrl).port} is one fetch refuses to connect to (a blocked port); run the server on another port, e.g. \`mitos serve --port 8080\`, and use that`
          : 'start a local server with `mitos serve`, or point MITOS_BASE_URL (or --base-url) at a running server',
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

/** Read at most `limit` bytes of a body as text, then drop the rest of it. */
async function readSome(res: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size >= limit) break;
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

/**
 * A call's timeout as a signal, stopped when the call ends. Not AbortSignal.timeout: that
 * leaves a timer and a weakly held signal behind for the whole timeout (30 s and more) after
 * every call, and costs more to make than the rest of a small call's client-side work.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

function callClock(ms: number): { signal: AbortSignal; stop(): void } {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
    // Longer than a timer can wait (about 24.8 days) would fire at once; that long is no limit.
    Math.min(ms, MAX_TIMER_MS),
  );
  // As AbortSignal.timeout's: the clock alone never keeps a process alive.
  timer.unref();
  return { signal: controller.signal, stop: () => clearTimeout(timer) };
}
