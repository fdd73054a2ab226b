/**
 * The body of a streaming response. One AbortController carries the three reasons a stream
 * stops early: the caller's signal, the idle clock, and the owner closing it. Iterating
 * yields the raw chunks; breaking out of the loop or calling close() drops the connection,
 * which is how the server learns the client went away.
 * @module
 */
import type { AgentRunError } from './errors.js';
import { describeNetworkError } from './transport-error.js';

export interface ResponseStreamInit {
  user: AbortSignal | undefined;
  /** 0 disables the idle clock. */
  idleTimeoutMs: number;
  idleError: () => AgentRunError;
  /** Removes the API key from server text quoted into an error. */
  redact: (text: string) => string;
}

export class ResponseStream implements AsyncIterable<Uint8Array> {
  readonly #ctl = new AbortController();
  readonly #user: AbortSignal | undefined;
  readonly #idleError: () => AgentRunError;
  /** For errors a parser builds from text the server sent inside the stream. */
  readonly redact: (text: string) => string;
  readonly #timer: NodeJS.Timeout | undefined;
  #idleFired = false;
  #closed = false;
  #body: AsyncIterable<Uint8Array> | undefined;
  #consumed = false;
  /**
   * Set when the transport failed mid-body (reset, socket closed without the chunked
   * terminator); undefined after a clean end. Parsers quote it when the stream is truncated.
   */
  interruption: string | undefined;

  /**
   * The cause for a stream that ended before its final frame: the transport failure if there
   * was one, else `cleanEnd` (what a body that ended cleanly but too early means).
   */
  truncationCause(cleanEnd: string): string {
    return this.interruption ? `the connection failed mid-stream: ${this.interruption}` : cleanEnd;
  }

  readonly #onUserAbort = (): void => this.#ctl.abort(this.#user?.reason);

  constructor(init: ResponseStreamInit) {
    this.#user = init.user;
    this.#idleError = init.idleError;
    this.redact = init.redact;
    this.#user?.addEventListener('abort', this.#onUserAbort, { once: true });
    if (init.idleTimeoutMs > 0) {
      this.#timer = setTimeout(() => {
        this.#idleFired = true;
        this.#ctl.abort();
      }, init.idleTimeoutMs);
      // The socket keeps the event loop alive while a stream is open; the clock must not.
      this.#timer.unref();
    }
  }

  /** @internal The signal the request itself is made with. */
  get signal(): AbortSignal {
    return this.#ctl.signal;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** @internal */
  attach(body: AsyncIterable<Uint8Array>): void {
    this.#body = body;
  }

  /**
   * The error a failed request or read should surface instead of a transport error: the
   * caller's abort reason or the idle timeout. Undefined when neither caused it.
   */
  failure(): unknown {
    if (this.#user?.aborted) return this.#user.reason;
    if (this.#idleFired) return this.#idleError();
    return undefined;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    const body = this.#body;
    if (!body || this.#consumed) throw new Error('a response stream can be iterated once, after it is attached');
    this.#consumed = true;
    const reader = body[Symbol.asyncIterator]();
    try {
      for (;;) {
        let next: IteratorResult<Uint8Array>;
        try {
          next = await reader.next();
        } catch (err) {
          const reason = this.failure();
          if (reason !== undefined) throw reason;
          if (!this.#closed) this.interruption = describeNetworkError(err);
          return;
        }
        if (next.done) return;
        this.#timer?.refresh();
        yield next.value;
      }
    } finally {
      this.close();
    }
  }

  /** Drop the connection (idempotent). A pending read ends quietly, without an error. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#user?.removeEventListener('abort', this.#onUserAbort);
    this.#ctl.abort();
  }
}
