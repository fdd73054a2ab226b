/**
 * Host side of the agent protocol: one unix-socket connection per operation to the agent that
 * serves as a sandbox's pid 1. Errors come back as MitosError with a stable code.
 */
import { connect, type Socket } from 'node:net';
import { MitosError } from '@mitos/protocol';
import type { ExecResult, FileKind, FileStat } from '../../engine.js';
import {
  DATA_CHUNK,
  EXEC_FLAG_DETACH_ON_CLOSE,
  EXEC_FLAG_PTY,
  EXEC_FLAG_STDIN,
  encodeFrame,
  type Frame,
  FrameDecoder,
  fields,
  In,
  Op,
  Out,
  splitFields,
} from './agent-frames.js';

/** Blocking exec keeps at most this much of each stream; streaming callers get everything. */
export const MAX_BUFFERED_OUTPUT = 64 * 1024 * 1024;

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM',
  2: 'ENOENT',
  13: 'EACCES',
  17: 'EEXIST',
  20: 'ENOTDIR',
  21: 'EISDIR',
  22: 'EINVAL',
  28: 'ENOSPC',
  36: 'ENAMETOOLONG',
  39: 'ENOTEMPTY',
  40: 'ELOOP',
  122: 'EDQUOT',
};

export interface AgentFailure {
  errno: number;
  message: string;
}

export function parseFailure(payload: Buffer): AgentFailure {
  const [errno, message] = splitFields(payload);
  return { errno: Number(errno) || 0, message: message ?? 'agent error' };
}

/** Map an agent-side file failure onto the catalogue (one table, at the boundary). */
export function fileError(failure: AgentFailure, sandbox: string, path: string): MitosError {
  const name = ERRNO_NAMES[failure.errno] ?? `errno ${failure.errno}`;
  const context = { sandbox, path };
  const detail = `${failure.message} (${name})`;
  if (failure.errno === 2) return new MitosError('not_found', `no such file or directory: ${path}`, context);
  if (failure.errno === 28 || failure.errno === 122) return new MitosError('disk_full', detail, context);
  return new MitosError('file_failed', detail, context);
}

export interface ExecRequest {
  command: string;
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs: number;
  pty?: { cols: number; rows: number };
  stdin?: boolean;
  detachOnClose?: boolean;
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

export class AgentClient {
  constructor(
    readonly socketPath: string,
    readonly sandboxId: string,
  ) {}

  private open(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const sock = connect(this.socketPath);
      sock.once('connect', () => {
        sock.removeAllListeners('error');
        resolve(sock);
      });
      sock.once('error', (err: NodeJS.ErrnoException) => {
        reject(
          new MitosError('sandbox_not_running', `the sandbox agent is not answering (${err.code ?? err.message})`, {
            sandbox: this.sandboxId,
          }),
        );
      });
    });
  }

  /** Send one request and collect frames until a terminal one (ok, fail, exit). */
  private async request(first: Buffer, onFrame?: (f: Frame) => void, extra: Buffer[] = []): Promise<Frame> {
    const sock = await this.open();
    return new Promise<Frame>((resolve, reject) => {
      const decoder = new FrameDecoder();
      let settled = false;
      const finish = (err: Error | null, frame?: Frame) => {
        if (settled) return;
        settled = true;
        sock.destroy();
        if (err) reject(err);
        else resolve(frame as Frame);
      };
      sock.on('data', (chunk: Buffer) => {
        let frames: Frame[];
        try {
          frames = decoder.push(chunk);
        } catch (err) {
          finish(err as Error);
          return;
        }
        for (const f of frames) {
          if (f.type === Out.ok || f.type === Out.fail || f.type === Out.exit) {
            finish(null, f);
            return;
          }
          onFrame?.(f);
        }
      });
      sock.on('error', (err) => finish(new MitosError('internal', `agent connection failed: ${err.message}`)));
      sock.on('close', () =>
        finish(
          new MitosError('internal', 'the sandbox agent closed the connection early', { sandbox: this.sandboxId }),
        ),
      );
      sock.write(first);
      for (const b of extra) sock.write(b);
    });
  }

  async ping(): Promise<void> {
    const f = await this.request(encodeFrame(Op.ping));
    if (f.type !== Out.ok) throw new MitosError('internal', 'agent ping failed');
  }

  async readFile(path: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    const f = await this.request(encodeFrame(Op.read, fields(path)), (d) => {
      if (d.type === Out.data) chunks.push(Buffer.from(d.payload));
    });
    if (f.type === Out.fail) throw fileError(parseFailure(f.payload), this.sandboxId, path);
    return Buffer.concat(chunks);
  }

  async writeFile(path: string, data: Buffer, mode = 0o644): Promise<void> {
    const frames = [];
    for (let off = 0; off < data.length; off += DATA_CHUNK) {
      frames.push(encodeFrame(In.data, data.subarray(off, off + DATA_CHUNK)));
    }
    frames.push(encodeFrame(In.end));
    const f = await this.request(encodeFrame(Op.write, fields(mode.toString(8), path)), undefined, frames);
    if (f.type === Out.fail) throw fileError(parseFailure(f.payload), this.sandboxId, path);
  }

  async list(path: string): Promise<FileStat[]> {
    return this.entries(Op.list, path);
  }

  async stat(path: string): Promise<FileStat> {
    const [entry] = await this.entries(Op.stat, path);
    if (!entry) throw new MitosError('file_failed', 'agent returned no stat entry', { sandbox: this.sandboxId, path });
    return entry;
  }

  private async entries(op: string, path: string): Promise<FileStat[]> {
    const out: FileStat[] = [];
    const f = await this.request(encodeFrame(op, fields(path)), (e) => {
      if (e.type !== Out.entry) return;
      const [kind, mode, size, mtime, ...name] = splitFields(e.payload);
      out.push({
        kind: (kind ?? 'other') as FileKind,
        mode: Number.parseInt(mode ?? '0', 8),
        size: Number(size),
        mtimeMs: Number(mtime),
        // a file name may legally contain no NUL, so the rest is the name
        name: name.join('\0'),
      });
    });
    if (f.type === Out.fail) throw fileError(parseFailure(f.payload), this.sandboxId, path);
    return out;
  }

  async mkdir(path: string): Promise<void> {
    const f = await this.request(encodeFrame(Op.mkdir, fields(path)));
    if (f.type === Out.fail) throw fileError(parseFailure(f.payload), this.sandboxId, path);
  }

  async remove(path: string): Promise<void> {
    const f = await this.request(encodeFrame(Op.remove, fields(path)));
    if (f.type === Out.fail) throw fileError(parseFailure(f.payload), this.sandboxId, path);
  }

  /** New hostname and fresh entropy mixed into the sandbox's pool (fork identity). */
  async setIdentity(hostname: string, seed: Buffer): Promise<void> {
    const f = await this.request(encodeFrame(Op.identity, Buffer.concat([fields(hostname), seed])));
    if (f.type === Out.fail) throw new MitosError('internal', parseFailure(f.payload).message);
  }

  /** Processes in the sandbox (pid and command line), excluding the agent's own. */
  async processes(): Promise<{ pid: number; command: string }[]> {
    const out: { pid: number; command: string }[] = [];
    const f = await this.request(encodeFrame(Op.processes), (e) => {
      if (e.type !== Out.entry) return;
      const [pid, ...cmd] = splitFields(e.payload);
      out.push({ pid: Number(pid), command: cmd.join('\0').replace(/\0$/, '') });
    });
    if (f.type === Out.fail)
      throw new MitosError('internal', parseFailure(f.payload).message, { sandbox: this.sandboxId });
    return out;
  }

  async signal(pid: number, signal: number): Promise<void> {
    const f = await this.request(encodeFrame(Op.signal, fields(String(pid), String(signal))));
    if (f.type === Out.fail) {
      const failure = parseFailure(f.payload);
      const code = failure.errno === 3 ? 'not_found' : 'invalid_request';
      throw new MitosError(code, `cannot signal pid ${pid}: ${failure.message}`, { sandbox: this.sandboxId, pid });
    }
  }

  /** A byte stream to 127.0.0.1:port inside the sandbox's network namespace. */
  connectTcp(port: number): Promise<Socket> {
    return this.connectStream(encodeFrame(Op.connectTcp, String(port)), `port ${port}`);
  }

  /** A byte stream to a unix socket inside the sandbox. */
  connectUnix(path: string): Promise<Socket> {
    return this.connectStream(encodeFrame(Op.connectUnix, path), path);
  }

  private async connectStream(first: Buffer, what: string): Promise<Socket> {
    const sock = await this.open();
    return new Promise((resolve, reject) => {
      let pending = Buffer.alloc(0);
      // 'readable' (not 'data') so that once the handshake is done and the listener is gone,
      // the socket is back in its initial mode and its next consumer can read or pipe it.
      const onReadable = () => {
        for (let chunk = sock.read() as Buffer | null; chunk !== null; chunk = sock.read() as Buffer | null) {
          pending = Buffer.concat([pending, chunk]);
        }
        // Only the first frame is ours; every byte after it is the relayed stream.
        if (pending.length < 5) return;
        const total = pending.readUInt32LE(0);
        if (pending.length < 4 + total) return;
        const f: Frame = { type: String.fromCharCode(pending[4] as number), payload: pending.subarray(5, 4 + total) };
        const rest = pending.subarray(4 + total);
        cleanup();
        if (f.type !== Out.ok) {
          sock.destroy();
          const failure = parseFailure(f.payload);
          reject(
            new MitosError('not_found', `nothing is listening on ${what} in the sandbox (${failure.message})`, {
              sandbox: this.sandboxId,
            }),
          );
          return;
        }
        if (rest.length > 0) sock.unshift(rest);
        resolve(sock);
      };
      const onClose = () => {
        cleanup();
        reject(
          new MitosError('internal', 'the sandbox agent closed the connection early', { sandbox: this.sandboxId }),
        );
      };
      const cleanup = () => {
        sock.off('readable', onReadable);
        sock.off('close', onClose);
      };
      sock.on('readable', onReadable);
      sock.on('close', onClose);
      sock.write(first);
    });
  }

  async exec(req: ExecRequest, cb: ExecCallbacks = {}): Promise<ExecResult> {
    return (await this.startExec(req, cb)).done;
  }

  async startExec(req: ExecRequest, cb: ExecCallbacks = {}): Promise<ExecHandle> {
    if (cb.signal?.aborted) throw new MitosError('canceled', 'the exec was canceled before it started');
    let flags = 0;
    if (req.pty) flags |= EXEC_FLAG_PTY;
    if (req.stdin) flags |= EXEC_FLAG_STDIN;
    if (req.detachOnClose) flags |= EXEC_FLAG_DETACH_ON_CLOSE;
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
        ...env,
      );
    } catch {
      throw new MitosError('invalid_request', 'command, cwd and env must not contain NUL bytes');
    }
    const started = performance.now();
    const sock = await this.open();
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
    const pid = new Promise<number>((res, rej) => {
      resolvePid = res;
      rejectPid = rej;
    });
    pid.catch(() => {});
    const done = new Promise<ExecResult>((resolve, reject) => {
      const decoder = new FrameDecoder();
      let settled = false;
      const finish = (err: Error | null, result?: ExecResult) => {
        if (settled) return;
        settled = true;
        cb.signal?.removeEventListener('abort', onAbort);
        sock.destroy();
        rejectPid(err ?? new MitosError('exec_failed', 'the command exited before reporting its pid'));
        if (err) reject(err);
        else resolve(result as ExecResult);
      };
      const onAbort = () => finish(new MitosError('canceled', 'the exec was canceled', { sandbox: this.sandboxId }));
      cb.signal?.addEventListener('abort', onAbort, { once: true });
      sock.on('data', (chunk: Buffer) => {
        let frames: Frame[];
        try {
          frames = decoder.push(chunk);
        } catch (err) {
          finish(err as Error);
          return;
        }
        for (const f of frames) {
          switch (f.type) {
            case Out.pid: {
              const n = Number(f.payload.toString());
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
              return;
            }
            case Out.fail: {
              const failure = parseFailure(f.payload);
              finish(new MitosError('exec_failed', `${failure.message}`, { sandbox: this.sandboxId }));
              return;
            }
          }
        }
      });
      sock.on('error', (err) =>
        finish(new MitosError('exec_failed', `agent connection failed: ${err.message}`, { sandbox: this.sandboxId })),
      );
      sock.on('close', () =>
        finish(
          new MitosError('exec_failed', 'the sandbox agent closed the exec stream before the exit frame', {
            sandbox: this.sandboxId,
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
}
