/**
 * `sandbox.runCode()`: run a cell in the sandbox's stateful kernel over
 * `POST /v1/run_code/stream` and assemble the {@link Execution} as frames arrive.
 * @module
 */
import { AgentRunError } from '../errors.js';
import type { HttpClient } from '../http.js';
import { ndjsonObjects } from '../ndjson.js';
import type { CallOptions } from '../types.js';
import { assertTimeoutSeconds } from '../validate.js';
import { Execution, type ExecutionError, type Result } from './execution.js';
import { parseCodeLine } from './frames.js';

const DEFAULT_RUN_CODE_TIMEOUT_SECONDS = 60;
/** The seed SDK's read-gap allowance beyond the cell's own timeout (wire-v1.md 1.3). */
const IDLE_SLACK_MS = 10_000;

export interface RunCodeOptions extends CallOptions {
  /** Kernel language (default `python`). */
  language?: string;
  /** Stop the cell after this many seconds (default 60, at most 86400). */
  timeoutSeconds?: number;
  /** Output as UTF-8 text, chunk by chunk. */
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
  onResult?: (result: Result) => void;
  onError?: (error: ExecutionError) => void;
}

/**
 * Run one cell. A cell that raises is a normal outcome (`execution.error`), not a thrown
 * error; transport failures and a stream cut before its exit frame throw.
 */
export async function runCode(
  http: HttpClient,
  sandbox: string,
  code: string,
  opts: RunCodeOptions = {},
): Promise<Execution> {
  const timeout = opts.timeoutSeconds ?? DEFAULT_RUN_CODE_TIMEOUT_SECONDS;
  assertTimeoutSeconds(timeout);
  const stream = await http.stream('POST', '/v1/run_code/stream', {
    body: { sandbox, code, language: opts.language ?? 'python', timeout },
    idleTimeoutMs: (timeout || DEFAULT_RUN_CODE_TIMEOUT_SECONDS) * 1000 + IDLE_SLACK_MS,
    signal: opts.signal,
  });
  const execution = new Execution();
  // One decoder per stream, so a character split across two chunks is not mangled.
  const text = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  const emit = (kind: 'stdout' | 'stderr', piece: string): void => {
    if (piece === '') return;
    execution.logs[kind].push(piece);
    (kind === 'stdout' ? opts.onStdout : opts.onStderr)?.(piece);
  };
  for await (const line of ndjsonObjects(stream, 'a run_code stream')) {
    const frame = parseCodeLine(line);
    if (!frame) continue;
    switch (frame.kind) {
      case 'stdout':
      case 'stderr':
        emit(frame.kind, text[frame.kind].decode(frame.data, { stream: true }));
        break;
      case 'result':
        execution.results.push(frame.result);
        opts.onResult?.(frame.result);
        break;
      case 'error':
        execution.error = frame.error;
        opts.onError?.(frame.error);
        break;
      case 'exit':
        emit('stdout', text.stdout.decode());
        emit('stderr', text.stderr.decode());
        execution.exitCode = frame.exitCode;
        // Nothing after the exit frame matters; leaving the loop closes the connection.
        return execution;
    }
  }
  throw new AgentRunError({
    code: 'run_code_stream_truncated',
    message: 'the code stream ended before the cell finished',
    cause: stream.truncationCause('the stream ended before the exit frame'),
    remediation: 'the cell may have partly run; check the kernel state, then retry',
    context: { sandbox },
  });
}
