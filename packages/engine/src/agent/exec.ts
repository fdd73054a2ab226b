/**
 * One command in a sandbox over one agent stream: start it, stream its output, feed its
 * stdin, resize its terminal, signal it, and collect its exit.
 */
import type { Duplex } from 'node:stream';
import { MitosError } from '@mitos/protocol';
import type { ExecResult } from '../engine.js';
import { execFailure, parseFailure } from './failures.js';
import {
  DATA_CHUNK,
  EXEC_FLAG_DETACH_ON_CLOSE,
  EXEC_FLAG_NO_PID,
  EXEC_FLAG_PTY,
  EXEC_FLAG_STDIN,
  EXEC_FLAG_USER,
  encodeFrame,
  type Frame,
  fields,
  In,
  Op,
  Out,
  readFrames,
  splitFields,
} from './frames.js';

/** Blocking exec keeps at most this much of each stream; streaming callers get everything. */
export const MAX_BUFFERED_OUTPUT = 64 * 1024 * 1024;

/** What an exec needs of the agent client. */
export interface ExecTarget {
  readonly sandboxId: string;
  open(): Promise<Duplex>;
}

export interface ExecRequest {
  command: string;
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs: number;
  pty?: { cols: number; rows: number };
  stdin?: boolean;
  detachOnClose?: boolean;
  /** A user name of the sandbox to run as (resolved by the agent in the sandbox's /etc/passwd). */
  user?: string;
  /**
   * The caller only waits for the exit: the agent sends no pid frame (one frame, and often one
   * wake-up of this process, fewer per exec). `pid` then rejects, and `onPid` is never called.
   */
  noPid?: boolean;
}

/** Longest user name the agent accepts (its buffer), and characters no passwd name holds. */
const MAX_USER_NAME = 63;
const NOT_IN_USER_NAME = /[:,\s/\0]/;

function checkUser(user: string): void {
  if (user.length === 0 || Buffer.byteLength(user) > MAX_USER_NAME || NOT_IN_USER_NAME.test(user))
    throw new MitosError('invalid_request', `invalid user name: ${JSON.stringify(user)}`, undefined, {
      remediation: `name a user of the sandbox's /etc/passwd (1-${MAX_USER_NAME} bytes, no ':', ',', '/' or spaces)`,
    });
}

export interface ExecCallbacks {
  onPid?: (pid: number) => void;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  signal?: AbortSignal;
}

/** A live exec: send input, resize, signal; `done` resolves with the result. */
export interface ExecHandle {
  /** The command's pid inside the sandbox, once it has started. */
  pid: Promise<number>;
  done: Promise<ExecResult>;
  write(data: Buffer): void;
  closeStdin(): void;
  resize(cols: number, rows: number): void;
  kill(signal?: number): void;
  /** Drop the connection; without detachOnClose this kills the process group. */
  disconnect(): void;
}

/**
 * The caller's reason when it is one of ours (a terminated sandbox, a server shutting down),
 * otherwise `canceled` carrying the reason as its cause.
 */
function abortError(signal: AbortSignal, sandbox: string): MitosError {
  if (signal.reason instanceof MitosError) return signal.reason;
  return new MitosError('canceled', 'the exec was canceled', { sandbox }, { cause: signal.reason });
}

export async function startExec(agent: ExecTarget, req: ExecRequest, cb: ExecCallbacks = {}): Promise<ExecHandle> {
  if (cb.signal?.aborted) throw abortError(cb.signal, agent.sandboxId);
  let flags = 0;
  if (req.pty) flags |= EXEC_FLAG_PTY;
  if (req.stdin) flags |= EXEC_FLAG_STDIN;
  if (req.detachOnClose) flags |= EXEC_FLAG_DETACH_ON_CLOSE;
  if (req.noPid) flags |= EXEC_FLAG_NO_PID;
  if (req.user !== undefined) {
    checkUser(req.user);
    flags |= EXEC_FLAG_USER;
  }
  const env = Object.entries(req.env ?? {}).map(([k, v]) => {
    if (k.length === 0 || k.includes('='))
      throw new MitosError('invalid_request', `invalid environment variable name: ${k}`);
    return `${k}=${v}`;
  });
  let payload: Buffer;
  try {
    payload = fields(
      String(Math.max(0, Math.round(req.timeoutMs))),
      String(flags),
      String(req.pty?.cols ?? 0),
      String(req.pty?.rows ?? 0),
      req.cwd ?? '',
      req.command,
      ...(req.user !== undefined ? [req.user] : []),
      ...env,
    );
  } catch {
    throw new MitosError('invalid_request', 'command, cwd and env must not contain NUL bytes');
  }
  const started = performance.now();
  const sock = await agent.open();
  // An abort while connecting would otherwise be lost (no listener was registered yet).
  if (cb.signal?.aborted) {
    sock.destroy();
    throw abortError(cb.signal, agent.sandboxId);
  }
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let outBytes = 0;
  let errBytes = 0;
  const keep = (list: Buffer[], size: number, chunk: Buffer): number => {
    if (size < MAX_BUFFERED_OUTPUT) list.push(chunk.subarray(0, MAX_BUFFERED_OUTPUT - size));
    return size + chunk.length;
  };
  let resolvePid!: (pid: number) => void;
  let rejectPid!: (err: Error) => void;
  let pidKnown = false;
  const pid = new Promise<number>((res, rej) => {
    resolvePid = res;
    rejectPid = rej;
  });
  pid.catch(() => {});
  if (req.noPid) {
    pidKnown = true;
    rejectPid(new MitosError('internal', 'the exec was started without asking for its pid'));
  }
  const done = new Promise<ExecResult>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, result?: ExecResult) => {
      if (settled) return;
      settled = true;
      cb.signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      // Built only when someone may still wait for it: an error captures a stack.
      if (!pidKnown) rejectPid(err ?? new MitosError('exec_failed', 'the command exited before reporting its pid'));
      if (err) reject(err);
      else resolve(result as ExecResult);
    };
    const onAbort = () => finish(abortError(cb.signal as AbortSignal, agent.sandboxId));
    cb.signal?.addEventListener('abort', onAbort, { once: true });
    const onFrame = (f: Frame): boolean => {
      switch (f.type) {
        case Out.pid: {
          if (req.noPid) break; // an older agent sends it anyway
          const n = Number(f.payload.toString());
          pidKnown = true;
          resolvePid(n);
          cb.onPid?.(n);
          break;
        }
        case Out.stdout: {
          const data = Buffer.from(f.payload);
          cb.onStdout?.(data);
          outBytes = keep(stdout, outBytes, data);
          break;
        }
        case Out.stderr: {
          const data = Buffer.from(f.payload);
          cb.onStderr?.(data);
          errBytes = keep(stderr, errBytes, data);
          break;
        }
        case Out.exit: {
          const [code, timedOut] = splitFields(f.payload);
          finish(null, {
            exitCode: Number(code),
            timedOut: timedOut === '1',
            stdout: Buffer.concat(stdout),
            stderr: Buffer.concat(stderr),
            durationMs: performance.now() - started,
          });
          return true;
        }
        case Out.fail: {
          finish(execFailure(parseFailure(f.payload), agent.sandboxId, req.user));
          return true;
        }
      }
      return false;
    };
    readFrames(sock, onFrame, (err) => finish(err));
    sock.on('error', (err) =>
      finish(new MitosError('exec_failed', `agent connection failed: ${err.message}`, { sandbox: agent.sandboxId })),
    );
    sock.on('close', () =>
      finish(
        new MitosError('exec_failed', 'the sandbox agent closed the exec stream before the exit frame', {
          sandbox: agent.sandboxId,
        }),
      ),
    );
  });
  sock.write(encodeFrame(Op.exec, payload));
  return {
    pid,
    done,
    write: (data) => {
      for (let off = 0; off < data.length; off += DATA_CHUNK)
        sock.write(encodeFrame(In.stdin, data.subarray(off, off + DATA_CHUNK)));
    },
    closeStdin: () => sock.write(encodeFrame(In.stdinClose)),
    resize: (cols, rows) => sock.write(encodeFrame(In.resize, fields(String(cols), String(rows)))),
    kill: (signal = 9) => sock.write(encodeFrame(In.signal, String(signal))),
    disconnect: () => sock.destroy(),
  };
}
