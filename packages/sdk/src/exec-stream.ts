/**
 * Commands whose output arrives while they run: `POST /v1/exec/stream` (wire-v1.md 4.8) and,
 * with the same frames, `POST /v1/processes/stream`. Lines are chunks
 * `{stream, data: base64}` until exactly one terminal line `{exit_code, exec_time_ms, error}`.
 * @module
 */
import { DEFAULT_EXEC_TIMEOUT_SECONDS } from '@mitos/protocol/client';
import { AgentRunError, type ErrorContext, ExecutionDeadlineError } from './errors.js';
import { type HttpClient, invalidResponse } from './http.js';
import { decodeBase64, type JsonObject, ndjsonObjects } from './ndjson.js';
import type { ResponseStream } from './response-stream.js';
import type { ExecOptions, ExecResult } from './types.js';

/**
 * Silence allowed beyond the command's own timeout: the server kills the command at its
 * deadline and then still has to send the terminal line.
 */
const STREAM_IDLE_SLACK_MS = 10_000;
/** The guest reports a command killed at its deadline as exit status 124. */
const DEADLINE_EXIT_CODE = 124;

/** A piece of output, in arrival order. */
export interface ExecChunk {
  stream: 'stdout' | 'stderr';
  data: Uint8Array;
}

/** The last event of a stream: the aggregate result. */
export interface ExecExit {
  exit: ExecResult;
}

/** What `sandbox.execStream()` yields: chunks, then exactly one `{exit}`. */
export type ExecEvent = ExecChunk | ExecExit;

export interface ExecTerminal {
  exitCode: number;
  execTimeMs: number;
  /** Non-empty when the server's transport failed after the stream started. */
  error: string;
}

/**
 * One line of the stream. Terminal iff it has `exit_code` and no `stream` (the seed's rule);
 * every other line is a chunk, routed to stderr only when it says so.
 */
export function parseExecLine(line: JsonObject): ExecChunk | { terminal: ExecTerminal } {
  if ('exit_code' in line && !('stream' in line)) {
    const exitCode = line.exit_code;
    if (typeof exitCode !== 'number' || !Number.isInteger(exitCode)) {
      throw invalidResponse(
        `the terminal line of an exec stream has a non-integer exit_code: ${JSON.stringify(exitCode)}`,
      );
    }
    const time = line.exec_time_ms;
    const error = line.error;
    return {
      terminal: {
        exitCode,
        execTimeMs: typeof time === 'number' && Number.isFinite(time) ? time : 0,
        error: typeof error === 'string' ? error : error ? JSON.stringify(error) : '',
      },
    };
  }
  const data = typeof line.data === 'string' && line.data !== '' ? decodeBase64(line.data) : new Uint8Array(0);
  if (data === undefined) {
    throw invalidResponse('an exec stream chunk carries data that is not base64');
  }
  return { stream: line.stream === 'stderr' ? 'stderr' : 'stdout', data };
}

/**
 * The frames of one stream, ending after the terminal frame (which is yielded). A terminal
 * error is `exec_stream_error`; the body ending first is `exec_stream_truncated`.
 */
export async function* execFrames(
  stream: ResponseStream,
  context: ErrorContext,
): AsyncGenerator<ExecChunk | { terminal: ExecTerminal }, void, undefined> {
  for await (const line of ndjsonObjects(stream, 'an exec stream')) {
    const frame = parseExecLine(line);
    if ('terminal' in frame && frame.terminal.error) {
      throw new AgentRunError({
        code: 'exec_stream_error',
        message: 'the command stream failed on the server',
        cause: stream.redact(frame.terminal.error),
        remediation: 'retry the command; if it keeps failing, inspect the server logs',
        context: { ...context, exit_code: frame.terminal.exitCode },
      });
    }
    yield frame;
    // Nothing follows the terminal line; returning closes the connection right away.
    if ('terminal' in frame) return;
  }
  throw new AgentRunError({
    code: 'exec_stream_truncated',
    message: 'the command stream ended before its exit status',
    cause: stream.truncationCause('the stream ended before the terminal exit frame'),
    remediation: 'the command may still have run; check the sandbox and the server, then retry',
    context,
  });
}

/** Output gathered from chunks; decoded once at the end so split UTF-8 sequences survive. */
export class OutputCollector {
  readonly #stdout: Uint8Array[] = [];
  readonly #stderr: Uint8Array[] = [];

  push(chunk: ExecChunk): void {
    (chunk.stream === 'stderr' ? this.#stderr : this.#stdout).push(chunk.data);
  }

  get stdout(): string {
    return Buffer.concat(this.#stdout).toString('utf8');
  }

  get stderr(): string {
    return Buffer.concat(this.#stderr).toString('utf8');
  }

  result(terminal: ExecTerminal): ExecResult {
    return { exitCode: terminal.exitCode, stdout: this.stdout, stderr: this.stderr, execTimeMs: terminal.execTimeMs };
  }
}

/** The /v1/exec and /v1/exec/stream body (wire-v1.md 4.7). */
export function execBody(
  sandbox: string,
  command: string,
  timeout: number,
  opts: ExecOptions,
): Record<string, unknown> {
  const body = withCommandOptions({ sandbox, command, timeout }, opts);
  if (opts.stdin !== undefined) body.stdin = Buffer.from(opts.stdin).toString('base64');
  return body;
}

/**
 * Adds a command's optional `working_dir` and `env` to its request body (exec, exec stream,
 * background process start); an empty cwd or env is left out, so the server default applies.
 */
export function withCommandOptions(
  body: Record<string, unknown>,
  opts: { cwd?: string | undefined; env?: Record<string, string> | undefined },
): Record<string, unknown> {
  if (opts.cwd) body.working_dir = opts.cwd;
  if (opts.env && Object.keys(opts.env).length > 0) body.env = opts.env;
  return body;
}

/**
 * Run a command over /v1/exec/stream, yielding its chunks and then `{exit}`. Exit 124 is the
 * deadline and throws ExecutionDeadlineError, as the blocking route's 504 does. Ending the
 * iteration early drops the connection, and the server kills the command's process group.
 */
export async function* streamExec(
  http: HttpClient,
  sandbox: string,
  command: string,
  timeout: number,
  opts: ExecOptions,
): AsyncGenerator<ExecEvent, void, undefined> {
  const effective = timeout || DEFAULT_EXEC_TIMEOUT_SECONDS;
  const stream = await http.stream('POST', '/v1/exec/stream', {
    body: execBody(sandbox, command, timeout, opts),
    idleTimeoutMs: effective * 1000 + STREAM_IDLE_SLACK_MS,
    signal: opts.signal,
  });
  const output = new OutputCollector();
  for await (const frame of execFrames(stream, { sandbox })) {
    if ('terminal' in frame) {
      if (frame.terminal.exitCode === DEADLINE_EXIT_CODE) {
        throw new ExecutionDeadlineError({
          code: 'exec_timeout',
          message: 'the command ran past its timeout and was killed',
          cause: `the command was still running after ${effective} s`,
          remediation: 'raise timeoutSeconds (at most 86400), or use execBackground for long-running work',
          context: { sandbox, timeout_s: effective },
        });
      }
      yield { exit: output.result(frame.terminal) };
      return;
    }
    output.push(frame);
    yield frame;
  }
}

/** exec() with callbacks: deliver chunks as they arrive, resolve with the aggregate. */
export async function execWithCallbacks(
  http: HttpClient,
  sandbox: string,
  command: string,
  timeout: number,
  opts: ExecOptions,
): Promise<ExecResult> {
  for await (const event of streamExec(http, sandbox, command, timeout, opts)) {
    if ('exit' in event) return event.exit;
    (event.stream === 'stderr' ? opts.onStderr : opts.onStdout)?.(event.data);
  }
  // streamExec either yields {exit} or throws; this is unreachable by construction.
  throw new Error('exec stream ended without a result');
}
