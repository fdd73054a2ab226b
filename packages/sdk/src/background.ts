/**
 * A handle on a background process: it keeps running when this client stops listening,
 * has no deadline, and can be reattached by pid (docs/api-extensions.md, Background processes).
 * @module
 */
import { AgentRunError, NotFoundError } from './errors.js';
import { execFrames, OutputCollector } from './exec-stream.js';
import type { ResponseStream } from './response-stream.js';
import type { SignalLike } from './signals.js';
import type { ExecResult } from './types.js';

export interface ProcessCallbacks {
  /** Output kept so far is replayed first, then live chunks follow. */
  onStdout?: (data: Uint8Array) => void;
  onStderr?: (data: Uint8Array) => void;
}

/** @internal */
export interface BackgroundProcessInit extends ProcessCallbacks {
  pid: number;
  sandbox: string;
  stream: ResponseStream;
  signal: (pid: number, sig: SignalLike) => Promise<void>;
}

export class BackgroundProcess {
  /** Pid inside the sandbox's pid namespace. */
  readonly pid: number;
  readonly #sandbox: string;
  readonly #stream: ResponseStream;
  readonly #signal: BackgroundProcessInit['signal'];
  readonly #output = new OutputCollector();
  readonly #done: Promise<ExecResult>;
  #result: ExecResult | undefined;
  #disconnected = false;

  /** @internal Use `sandbox.execBackground()` or `sandbox.processes.connect()`. */
  constructor(init: BackgroundProcessInit) {
    this.pid = init.pid;
    this.#sandbox = init.sandbox;
    this.#stream = init.stream;
    this.#signal = init.signal;
    this.#done = this.#listen(init);
    // A handle nobody waits on must not end the program with an unhandled rejection;
    // wait() still hands the same rejection to whoever asks.
    this.#done.catch(() => {});
  }

  /** The exit status once the process has ended and this handle saw it; else undefined. */
  get exitCode(): number | undefined {
    return this.#result?.exitCode;
  }

  /** Output received so far (decoded as UTF-8). */
  get stdout(): string {
    return this.#output.stdout;
  }

  get stderr(): string {
    return this.#output.stderr;
  }

  /**
   * Resolve with the result when the process ends; a non-zero exit is a normal result.
   * Rejects with `process_disconnected` once disconnect() was called before the end.
   */
  wait(): Promise<ExecResult> {
    return this.#done;
  }

  /**
   * Send `sig` (default SIGKILL) to the process group. Resolves true when delivered, false
   * when the process is already gone; wait() then resolves with the final status.
   */
  async kill(sig: SignalLike = 'SIGKILL'): Promise<boolean> {
    try {
      await this.#signal(this.pid, sig);
      return true;
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }

  /** Stop receiving output; the process keeps running (reattach with `processes.connect(pid)`). */
  disconnect(): void {
    if (this.#result) return;
    this.#disconnected = true;
    this.#stream.close();
  }

  async #listen(callbacks: ProcessCallbacks): Promise<ExecResult> {
    try {
      for await (const frame of execFrames(this.#stream, { sandbox: this.#sandbox, pid: this.pid })) {
        if ('terminal' in frame) {
          this.#result = this.#output.result(frame.terminal);
          return this.#result;
        }
        this.#output.push(frame);
        (frame.stream === 'stderr' ? callbacks.onStderr : callbacks.onStdout)?.(frame.data);
      }
    } catch (err) {
      if (!this.#disconnected) throw err;
    } finally {
      this.#stream.close();
    }
    throw new AgentRunError({
      code: 'process_disconnected',
      message: 'stopped listening to the process before it ended',
      cause: `disconnect() was called while process ${this.pid} was still running`,
      remediation: 'reattach with sandbox.processes.connect(pid) to follow it again and wait for its end',
      context: { sandbox: this.#sandbox, pid: this.pid },
    });
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `BackgroundProcess { sandbox: '${this.#sandbox}', pid: ${this.pid}, exitCode: ${this.exitCode} }`;
  }
}
