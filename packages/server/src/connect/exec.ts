/**
 * Exec (bidi) and ExecStream (server streaming): a command's output as ExecResponse chunks,
 * then exactly one `exit`. The deadline kills the command with exit code 124, which the
 * clients turn into their execution-deadline error; a command that could not run or whose
 * sandbox went away ends with `exit.error` set. Refusals before any output (bad request,
 * unknown or paused sandbox, stream cap) are Connect errors.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { HandlerContext } from '@connectrpc/connect';
import type { ExecResult, ProcessHandle, ProcessOptions } from '@mitos/engine';
import { MitosError } from '@mitos/protocol';
import type { RouteDeps } from '../env.js';
import { engineFailure, failureDetail } from '../errors.js';
import { effectiveTimeout } from '../routes/exec.js';
import { TERMINAL_COMMAND } from '../routes/pty.js';
import type { StreamLease } from '../streaming/registry.js';
import { startAccepted } from './accepted.js';
import { Channel } from './channel.js';
import { commandOptions } from './command.js';
import type { ExecOpen, ExecRequest, ExecResponseSchema, ExecStreamRequest } from './gen/sandbox/v1/sandbox_pb.js';
import { sandboxIdFrom } from './target.js';

export type ExecReply = MessageInitShape<typeof ExecResponseSchema>;

type Deps = Pick<RouteDeps, 'engine' | 'streams' | 'maxExecTimeoutSeconds'>;

const DEFAULT_TERM = 'xterm-256color';
const DEFAULT_COLS = 80;
const DEFAULT_ROWS = 24;

/** A negative exit code is the engine losing the process's stream; its reason is in stderr. */
export function exitReply(result: ExecResult): ExecReply {
  if (result.exitCode < 0) {
    const why = result.stderr.toString('utf8').trim() || 'the process stream was lost';
    return {
      msg: { case: 'exit', value: { exitCode: 1, execTimeMs: result.durationMs, error: `exec stream failed: ${why}` } },
    };
  }
  return { msg: { case: 'exit', value: { exitCode: result.exitCode, execTimeMs: result.durationMs } } };
}

export function failureReply(err: unknown): ExecReply {
  return { msg: { case: 'exit', value: { exitCode: 1, error: `exec stream failed: ${failureDetail(err)}` } } };
}

export async function* execStream(deps: Deps, req: ExecStreamRequest, ctx: HandlerContext): AsyncIterable<ExecReply> {
  const sandboxId = sandboxIdFrom(ctx.requestHeader);
  const command = commandOptions(req);
  const timeoutS = effectiveTimeout(positive(req.timeoutSeconds), sandboxId, deps.maxExecTimeoutSeconds);
  const out = new Channel<ExecReply>();
  // The engine's lookup is the only one: a refusal before acceptance is the call's error.
  const { lease, done } = await startAccepted(deps.streams, sandboxId, ctx.signal, (signal, onAccepted) =>
    deps.engine.exec(sandboxId, {
      ...command,
      timeoutMs: timeoutS * 1000,
      signal,
      onAccepted,
      onStdout: (chunk) => out.push({ msg: { case: 'stdout', value: chunk } }),
      onStderr: (chunk) => out.push({ msg: { case: 'stderr', value: chunk } }),
    }),
  );
  try {
    done
      .then(
        (result) => out.push(lease.signal.aborted ? failureReply(lease.signal.reason) : exitReply(result)),
        (err: unknown) => out.push(failureReply(lease.signal.aborted ? lease.signal.reason : err)),
      )
      .finally(() => out.end());
    yield* out;
  } finally {
    lease.release();
  }
}

/**
 * The bidi Exec. The first request must be `open`; later ones feed stdin, resize the
 * terminal, or close stdin. The end of the request stream closes stdin too, so a half-duplex
 * client (everything over HTTP/1.1) gets a command that sees EOF after what it sent.
 */
export async function* execBidi(
  deps: Deps,
  requests: AsyncIterable<ExecRequest>,
  ctx: HandlerContext,
): AsyncIterable<ExecReply> {
  const sandboxId = sandboxIdFrom(ctx.requestHeader);
  const input = requests[Symbol.asyncIterator]();
  const open = await firstOpen(input);
  const process = await startExec(deps, sandboxId, open);
  try {
    void pumpInput(input, process).catch(() => {});
    yield* runProcess(process.handle, process.lease.signal, ctx.signal);
  } finally {
    process.release();
  }
}

async function firstOpen(input: AsyncIterator<ExecRequest>): Promise<ExecOpen> {
  const first = await input.next();
  if (first.done || first.value.msg.case !== 'open') {
    throw new MitosError('invalid_json', 'the first ExecRequest must carry `open`');
  }
  return first.value.msg.value;
}

export interface StartedExec {
  handle: ProcessHandle;
  lease: { signal: AbortSignal };
  /** Applies a stdin, resize or stdin_close request; ignored once stdin is closed or the process exited. */
  input(request: ExecRequest): void;
  /** Closes stdin once; later calls do nothing. */
  closeStdin(): void;
  /** Kills the process if it is still running and frees its stream slot; idempotent. */
  release(): void;
}

/** Starts the command of an ExecOpen under a stream lease (a terminal when `pty` is set). */
export async function startExec(deps: Deps, sandboxId: string, open: ExecOpen): Promise<StartedExec> {
  const pty = open.pty;
  const command = commandOptions({ ...open, command: open.command === '' && pty ? TERMINAL_COMMAND : open.command });
  // A terminal runs until its shell exits unless the client asked for a deadline.
  const timeoutS =
    pty && open.timeoutSeconds <= 0
      ? 0
      : effectiveTimeout(positive(open.timeoutSeconds), sandboxId, deps.maxExecTimeoutSeconds);
  let lease: StreamLease | undefined;
  const options: ProcessOptions = {
    ...command,
    timeoutMs: timeoutS * 1000,
    stdin: true,
    // The stream slot is taken after the engine's one lookup, before the process starts.
    onAccepted: () => {
      lease = deps.streams.acquire(sandboxId);
    },
  };
  if (pty) {
    options.pty = { cols: pty.size?.cols || DEFAULT_COLS, rows: pty.size?.rows || DEFAULT_ROWS };
    options.env = { TERM: pty.term || DEFAULT_TERM, ...command.env };
  }
  let handle: ProcessHandle;
  try {
    handle = await deps.engine.startProcess(sandboxId, options);
  } catch (err) {
    lease?.release();
    throw engineFailure(err, 'exec_failed', { sandbox: sandboxId });
  }
  const held = lease as StreamLease | undefined;
  if (held === undefined) {
    handle.kill();
    throw new MitosError('internal', 'the engine started the process without accepting the call (onAccepted)');
  }
  // Nothing is written to a process that has exited or whose stdin is closed: the engine's
  // connection to it may already be gone, and a late write would fail the whole exec.
  let exited = false;
  let stdinClosed = false;
  const done = () => {
    exited = true;
  };
  void handle.wait().then(done, done);
  const closeStdin = () => {
    if (stdinClosed || exited) return;
    stdinClosed = true;
    attempt(() => handle.closeStdin());
  };
  return {
    handle,
    lease: held,
    closeStdin,
    input: (request) => {
      const { msg } = request;
      if (exited) return;
      if (msg.case === 'stdin' && !stdinClosed) attempt(() => handle.write(Buffer.from(msg.value)));
      else if (msg.case === 'resize' && msg.value.cols > 0 && msg.value.rows > 0) {
        attempt(() => handle.resize(msg.value.cols, msg.value.rows));
      } else if (msg.case === 'stdinClose' && msg.value) closeStdin();
    },
    release: () => {
      if (!exited) handle.kill();
      held.release();
    },
  };
}

/** The process may exit between the check and the call; its exit reply is on the way then. */
function attempt(call: () => void): void {
  try {
    call();
  } catch {
    // Exiting.
  }
}

/** The process's output and exit as replies; ends early (with a failure exit) if `gone` aborts. */
export async function* runProcess(
  handle: ProcessHandle,
  gone: AbortSignal,
  clientGone: AbortSignal,
): AsyncIterable<ExecReply> {
  const out = new Channel<ExecReply>();
  const unsubscribe = handle.subscribe({
    onStdout: (chunk) => out.push({ msg: { case: 'stdout', value: chunk } }),
    onStderr: (chunk) => out.push({ msg: { case: 'stderr', value: chunk } }),
    onExit: (result) => {
      out.push(exitReply(result));
      out.end();
    },
  });
  const onGone = () => {
    out.push(failureReply(gone.reason));
    out.end();
  };
  const onClientGone = () => out.end();
  gone.addEventListener('abort', onGone, { once: true });
  clientGone.addEventListener('abort', onClientGone, { once: true });
  if (gone.aborted) onGone();
  try {
    yield* out;
  } finally {
    unsubscribe();
    gone.removeEventListener('abort', onGone);
    clientGone.removeEventListener('abort', onClientGone);
  }
}

/** Client messages after `open`: stdin, resize, stdin_close; the end of the stream closes stdin. */
export async function pumpInput(input: AsyncIterator<ExecRequest>, exec: StartedExec): Promise<void> {
  try {
    for (;;) {
      const next = await input.next();
      if (next.done) break;
      exec.input(next.value);
    }
  } finally {
    exec.closeStdin();
  }
}

/** The contract's "0 or less: the default". */
function positive(seconds: number | bigint): number | undefined {
  const n = Number(seconds);
  return n > 0 ? n : undefined;
}
