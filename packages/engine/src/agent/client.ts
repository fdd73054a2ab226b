/**
 * Host side of the agent protocol, spoken with the agent that serves as a sandbox's pid 1.
 * Every operation is a stream of its own: a channel of the sandbox's one persistent connection
 * (session.ts). Errors come back as MitosError with a stable code.
 */
import type { Duplex } from 'node:stream';
import { MitosError } from '@mitos/protocol';
import type { ExecResult, FileKind, FileStat } from '../engine.js';
import { type ExecCallbacks, type ExecHandle, type ExecRequest, startExec } from './exec.js';
import { fileError, parseFailure } from './failures.js';
import { DATA_CHUNK, encodeFrame, type Frame, fields, In, Op, Out, readFrames, splitFields } from './frames.js';
import { AgentSession } from './session.js';
import { untilWritable } from './writable.js';

export type { ExecCallbacks, ExecHandle, ExecRequest } from './exec.js';
export { type AgentFailure, fileError, parseFailure } from './failures.js';

export class AgentClient {
  private readonly session: AgentSession;

  constructor(socketPath: string, sandboxId: string, options: { multiplex?: boolean } = {}) {
    this.session = new AgentSession(socketPath, sandboxId, options.multiplex ?? true);
  }

  get socketPath(): string {
    return this.session.socketPath;
  }

  get sandboxId(): string {
    return this.session.sandboxId;
  }

  /**
   * The sandbox now goes by another id and socket path (a pooled sandbox handed out): the same
   * agent, so the connection made already stays; a reconnect uses the new path.
   */
  renamed(socketPath: string, sandboxId: string): void {
    this.session.renamed(socketPath, sandboxId);
  }

  /** Whether this sandbox's operations share one multiplexed connection. */
  multiplexed(): Promise<boolean> {
    return this.session.multiplexed();
  }

  /** A new byte stream to the agent for one operation (a channel of the sandbox's connection). */
  open(): Promise<Duplex> {
    return this.session.open();
  }

  /** Drop the connection to this sandbox's agent; operations in flight fail. */
  close(): void {
    this.session.close();
  }

  /**
   * Send one request and collect frames until a terminal one (ok, fail, exit). `extra` frames
   * follow the first; from an async source they are written as the socket drains, so a large
   * write never sits whole in memory.
   */
  private async request(
    first: Buffer,
    onFrame?: (f: Frame) => void,
    extra: Buffer[] | AsyncIterable<Buffer> = [],
  ): Promise<Frame> {
    const sock = await this.open();
    return new Promise<Frame>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | null, frame?: Frame) => {
        if (settled) return;
        settled = true;
        sock.destroy();
        if (err) reject(err);
        else resolve(frame as Frame);
      };
      readFrames(
        sock,
        (f) => {
          if (f.type === Out.ok || f.type === Out.fail || f.type === Out.exit) {
            finish(null, f);
            return true;
          }
          onFrame?.(f);
          return false;
        },
        (err) => finish(err),
      );
      sock.on('error', (err) =>
        finish(new MitosError('internal', `agent connection failed: ${err.message}`, { sandbox: this.sandboxId })),
      );
      sock.on('close', () =>
        finish(
          new MitosError('internal', 'the sandbox agent closed the connection early', { sandbox: this.sandboxId }),
        ),
      );
      sock.write(first);
      if (Array.isArray(extra)) for (const b of extra) sock.write(b);
      else
        void (async () => {
          for await (const b of extra) {
            if (settled) return;
            if (!sock.write(b)) await untilWritable(sock);
          }
        })().catch((err: Error) => finish(err));
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

  /** Write a file from bytes in memory, or streamed from `data` (chunks of any size). */
  async writeFile(path: string, data: Buffer | AsyncIterable<Uint8Array>, mode = 0o644): Promise<void> {
    const frames = Buffer.isBuffer(data) ? [...dataFrames(data)] : streamedFrames(data);
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
      // Programs that rewrite their argv (setproctitle) leave it padded with spaces or NULs.
      out.push({ pid: Number(pid), command: cmd.join(' ').replace(/[\0\s]+$/, '') });
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
  connectTcp(port: number): Promise<Duplex> {
    return this.connectStream(encodeFrame(Op.connectTcp, String(port)), `port ${port}`);
  }

  /** A byte stream to a unix socket inside the sandbox. */
  connectUnix(path: string): Promise<Duplex> {
    return this.connectStream(encodeFrame(Op.connectUnix, path), path);
  }

  private async connectStream(first: Buffer, what: string): Promise<Duplex> {
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
      // Kept for the stream's life: an error is always followed by 'close', where the handshake
      // (and a consumer) learns of it; unheard, it would crash the server when the sandbox ends
      // between this promise resolving and the consumer's first listener (a kernel cell at kill).
      sock.on('error', () => {});
      sock.on('readable', onReadable);
      sock.on('close', onClose);
      sock.write(first);
    });
  }

  async exec(req: ExecRequest, cb: ExecCallbacks = {}): Promise<ExecResult> {
    return (await this.startExec(req, cb)).done;
  }

  startExec(req: ExecRequest, cb: ExecCallbacks = {}): Promise<ExecHandle> {
    return startExec(this, req, cb);
  }
}

function* dataFrames(data: Uint8Array, last = true): Generator<Buffer> {
  for (let off = 0; off < data.length; off += DATA_CHUNK) {
    yield encodeFrame(
      In.data,
      Buffer.from(data.buffer, data.byteOffset + off, Math.min(DATA_CHUNK, data.length - off)),
    );
  }
  if (last) yield encodeFrame(In.end);
}

async function* streamedFrames(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  for await (const chunk of source) yield* dataFrames(chunk, false);
  yield encodeFrame(In.end);
}
