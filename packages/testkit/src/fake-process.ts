/** The fake engine's process handle (see FakeEngine.onStartProcess). Test-only. */
import type { ExecResult, ProcessHandle, ProcessListener, ProcessOptions } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';

/**
 * A scripted process: the test plays its output (`emit`) and its end (`exit`) and reads back
 * what the server wrote, resized and signalled. Subscribers get the output so far replayed.
 */
export class FakeProcess implements ProcessHandle {
  readonly input: Buffer[] = [];
  readonly resizes: Array<{ cols: number; rows: number }> = [];
  readonly signals: number[] = [];
  readonly startedAt = new Date();
  /** Called with every write, e.g. to echo input back as a terminal would. */
  onInput: ((data: Buffer) => void) | undefined;
  readonly #output: Array<['stdout' | 'stderr', Buffer]> = [];
  readonly #listeners = new Set<ProcessListener>();
  #result: ExecResult | undefined;
  readonly #done: Promise<ExecResult>;
  #resolveDone: (result: ExecResult) => void = () => {};

  constructor(
    readonly pid: number,
    readonly sandboxId: string,
    readonly options: ProcessOptions,
  ) {
    this.#done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
  }

  get exited(): boolean {
    return this.#result !== undefined;
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }

  subscribe(listener: ProcessListener): () => void {
    for (const [stream, chunk] of this.#output) {
      if (stream === 'stdout') listener.onStdout?.(chunk);
      else listener.onStderr?.(chunk);
    }
    if (this.#result) {
      listener.onExit?.(this.#result);
      return () => {};
    }
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  write(data: Buffer): void {
    if (this.#result) throw new MitosError('exec_failed', 'process has exited');
    this.input.push(Buffer.from(data));
    this.onInput?.(data);
  }

  closeStdin(): void {}

  resize(cols: number, rows: number): void {
    this.resizes.push({ cols, rows });
  }

  kill(signal = 9): void {
    this.signals.push(signal);
    this.exit(128 + signal);
  }

  wait(): Promise<ExecResult> {
    return this.#done;
  }

  emit(stream: 'stdout' | 'stderr', data: string | Buffer): void {
    const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data);
    this.#output.push([stream, chunk]);
    for (const listener of [...this.#listeners]) {
      if (stream === 'stdout') listener.onStdout?.(chunk);
      else listener.onStderr?.(chunk);
    }
  }

  exit(exitCode: number): void {
    if (this.#result) return;
    this.#result = { ...result(exitCode, '', ''), durationMs: 7 };
    for (const listener of [...this.#listeners]) listener.onExit?.(this.#result);
    this.#listeners.clear();
    this.#resolveDone(this.#result);
  }
}

export function result(exitCode: number, stdout: string | Buffer, stderr: string | Buffer): ExecResult {
  return {
    exitCode,
    timedOut: false,
    stdout: Buffer.isBuffer(stdout) ? stdout : Buffer.from(stdout),
    stderr: Buffer.isBuffer(stderr) ? stderr : Buffer.from(stderr),
    durationMs: 2.5,
  };
}
