/**
 * Interactive terminals over WebSocket `GET /v1/pty?sandbox=&cols=&rows=` with subprotocol
 * `mitos.pty.v1` (wire-v1.md 4.18). One JSON object per text message; bytes travel base64.
 * @module
 */
import type { RawData, WebSocket } from 'ws';
import { AgentRunError } from './errors.js';
import type { HttpClient } from './http.js';
import { decodeBase64 } from './ndjson.js';
import type { CallOptions } from './types.js';
import { assertIntInRange } from './validate.js';

export const PTY_SUBPROTOCOL = 'mitos.pty.v1';
/** The seed client waits up to 10 s for the terminal to open. */
const OPEN_TIMEOUT_MS = 10_000;
/** Above this the server ignores the size and uses 80x24; refuse it rather than surprise. */
const MAX_TERMINAL_DIMENSION = 100_000;
/** After kill(), how long the server gets to acknowledge the close before the socket is cut. */
const CLOSE_GRACE_MS = 1_000;

export interface PtyOptions extends CallOptions {
  cols?: number;
  rows?: number;
  /** Terminal output as it arrives (raw bytes, escape sequences included). */
  onData?: (data: Uint8Array) => void;
  /** Milliseconds to wait for the terminal to open (default 10 000). */
  timeoutMs?: number;
}

/** The query of the terminal URL; the key never goes here, only in the upgrade's header. */
export function ptyPath(sandbox: string, cols: number, rows: number): string {
  const q = new URLSearchParams({ sandbox, cols: String(cols), rows: String(rows) });
  return `/v1/pty?${q.toString()}`;
}

export function checkSize(cols: unknown, rows: unknown): void {
  assertIntInRange(cols, 1, MAX_TERMINAL_DIMENSION, 'cols');
  assertIntInRange(rows, 1, MAX_TERMINAL_DIMENSION, 'rows');
}

/** Open a terminal in `sandbox` and resolve once it is connected. */
export async function openPty(http: HttpClient, sandbox: string, opts: PtyOptions = {}): Promise<PtyHandle> {
  const cols = opts.cols ?? 80;
  const rows = opts.rows ?? 24;
  checkSize(cols, rows);
  let handle: PtyHandle | undefined;
  await http.openWebSocket(ptyPath(sandbox, cols, rows), {
    protocol: PTY_SUBPROTOCOL,
    timeoutMs: opts.timeoutMs ?? OPEN_TIMEOUT_MS,
    signal: opts.signal,
    // The shell's first output (its prompt) can arrive with the handshake itself.
    prepare: (ws) => {
      handle = new PtyHandle(ws, sandbox, opts);
    },
  });
  if (!handle) throw new Error('openWebSocket resolved without preparing the socket');
  return handle;
}

export class PtyHandle {
  readonly #ws: WebSocket;
  readonly #sandbox: string;
  readonly #done: Promise<number>;
  #exitCode: number | undefined;
  #failure: unknown;
  #serverError: string | undefined;

  /** @internal Use `sandbox.createPty()`. */
  constructor(ws: WebSocket, sandbox: string, opts: PtyOptions) {
    this.#ws = ws;
    this.#sandbox = sandbox;
    const onAbort = (): void => this.kill();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    this.#done = new Promise<number>((resolve, reject) => {
      ws.on('message', (raw, isBinary) => this.#onMessage(raw, isBinary, opts.onData));
      ws.once('close', () => {
        opts.signal?.removeEventListener('abort', onAbort);
        if (this.#failure !== undefined) reject(this.#failure);
        else resolve(this.#exitCode ?? -1);
      });
    });
    this.#done.catch(() => {});
  }

  /** The shell's exit status once the exit frame arrived; undefined before. */
  get exitCode(): number | undefined {
    return this.#exitCode;
  }

  /** The server's description when the terminal failed on its side (`pty stream failed: ...`). */
  get serverError(): string | undefined {
    return this.#serverError;
  }

  /** True once the terminal is closing or closed; input is refused from then on. */
  get closed(): boolean {
    return this.#ws.readyState !== this.#ws.OPEN;
  }

  /** Type into the terminal; strings are sent as UTF-8. */
  sendInput(data: string | Uint8Array): void {
    const bytes =
      typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.#send({ kind: 'input', data: bytes.toString('base64') });
  }

  resize(cols: number, rows: number): void {
    checkSize(cols, rows);
    this.#send({ kind: 'resize', cols, rows });
  }

  /** Close the terminal; the server kills the shell. wait() then resolves -1 unless it had exited. */
  kill(): void {
    if (this.#ws.readyState === this.#ws.CLOSED) return;
    this.#ws.close(1000);
    setTimeout(() => this.#ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  /**
   * Resolve with the shell's exit status when the terminal closes, or -1 when it closed
   * without an exit frame (killed, connection lost). Rejects if onData threw.
   */
  wait(): Promise<number> {
    return this.#done;
  }

  #send(frame: Record<string, unknown>): void {
    if (this.closed) {
      throw new AgentRunError({
        code: 'pty_closed',
        message: 'the terminal is closed',
        cause: this.#exitCode === undefined ? 'the terminal was closed' : `the shell exited with ${this.#exitCode}`,
        remediation: 'open a new terminal with sandbox.createPty()',
        context: { sandbox: this.#sandbox },
      });
    }
    this.#ws.send(JSON.stringify(frame));
  }

  #onMessage(raw: RawData, isBinary: boolean, onData: PtyOptions['onData']): void {
    if (isBinary) return;
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(rawText(raw)) as Record<string, unknown>;
    } catch {
      return;
    }
    if (frame === null || typeof frame !== 'object') return;
    if (frame.kind === 'output' && typeof frame.data === 'string') {
      const bytes = decodeBase64(frame.data);
      if (!bytes || bytes.length === 0) return;
      try {
        onData?.(bytes);
      } catch (err) {
        // A throwing callback ends the session and surfaces through wait(), never as an
        // uncaught exception inside the socket's event handler.
        this.#failure ??= err;
        this.kill();
      }
    } else if (frame.kind === 'exit') {
      // The seed's server omits exit_code when it is 0.
      this.#exitCode = typeof frame.exit_code === 'number' ? frame.exit_code : 0;
      if (typeof frame.error === 'string' && frame.error) this.#serverError = frame.error;
      this.#ws.close(1000);
    }
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `PtyHandle { sandbox: '${this.#sandbox}', exitCode: ${this.#exitCode} }`;
  }
}

function rawText(raw: RawData): string {
  if (Array.isArray(raw)) return Buffer.concat(raw).toString('utf8');
  return Buffer.isBuffer(raw) ? raw.toString('utf8') : Buffer.from(raw).toString('utf8');
}
