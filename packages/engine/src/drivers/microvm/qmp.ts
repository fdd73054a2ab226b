/**
 * A small QMP (QEMU Machine Protocol) client over an inherited socket: JSON objects separated
 * by CRLF; commands carry an id that their reply echoes; asynchronous events come in between.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
}

export class QmpError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    desc: string,
  ) {
    super(`QMP ${command}: ${desc}`);
  }
}

export class Qmp {
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<
    string,
    { command: string; resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  private readonly events = new EventEmitter();
  private closedError: Error | undefined;
  private readonly greeting: Promise<void>;

  constructor(private readonly sock: Socket) {
    this.events.setMaxListeners(0);
    let greeted!: () => void;
    let failed!: (e: Error) => void;
    this.greeting = new Promise((res, rej) => {
      greeted = res;
      failed = rej;
    });
    this.greeting.catch(() => {});
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.buffer += chunk;
      for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
        const line = this.buffer.slice(0, nl).trim();
        this.buffer = this.buffer.slice(nl + 1);
        if (!line) continue;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        if ('QMP' in msg) greeted();
        else if ('event' in msg) this.events.emit('event', msg as unknown as QmpEvent);
        else this.settle(msg);
      }
    });
    const onGone = () => {
      this.closedError ??= new Error('the QMP connection closed (QEMU exited)');
      failed(this.closedError);
      for (const p of this.pending.values()) p.reject(this.closedError);
      this.pending.clear();
      this.events.emit('closed');
    };
    sock.on('close', onGone);
    sock.on('error', (err) => {
      this.closedError = new Error(`QMP connection failed: ${err.message}`);
      onGone();
    });
  }

  private settle(msg: Record<string, unknown>): void {
    const id = String(msg.id ?? '');
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if ('error' in msg) {
      const e = msg.error as { class?: string; desc?: string };
      p.reject(new QmpError(p.command, e.class ?? 'GenericError', e.desc ?? 'failed'));
    } else p.resolve(msg.return);
  }

  /** Wait for the greeting and leave capabilities-negotiation mode. */
  async handshake(): Promise<void> {
    await this.greeting;
    await this.execute('qmp_capabilities');
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = String(this.nextId++);
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject });
      this.sock.write(
        `${JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id })}\n`,
      );
    });
  }

  /**
   * Hand QEMU a socket under `fdname` (QMP getfd). Node cannot send SCM_RIGHTS, so
   * `helper --send-fd` (the static guest binary) writes the getfd command on a duplicate of our
   * QMP socket with the socket attached: `target` when given (its peer then receives what QEMU
   * writes, with no copy through this process), else one end of a fresh socketpair whose other
   * end is returned.
   */
  async passSocket(helper: string, fdname: string, target?: Socket): Promise<Readable | undefined> {
    if (this.closedError) throw this.closedError;
    const id = String(this.nextId++);
    const reply = new Promise<unknown>((resolve, reject) =>
      this.pending.set(id, { command: 'getfd', resolve, reject }),
    );
    reply.catch(() => {}); // awaited after the helper exits; QEMU may die before that
    const line = JSON.stringify({ execute: 'getfd', arguments: { fdname }, id });
    const child = spawn(helper, ['--send-fd', line], {
      stdio: ['ignore', 'ignore', 'pipe', this.sock, target ?? 'pipe'],
    });
    // Sharing a socket with a child pauses it here (so both do not read); the helper only writes.
    this.sock.resume();
    let stream: PassThrough | undefined;
    if (!target) {
      // Node resumes (drains) a child's stdio streams when the child exits; the stream must
      // outlive the helper, so it is consumed into a PassThrough right away.
      stream = new PassThrough();
      (child.stdio[4] as Socket).pipe(stream);
    }
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c));
      child.on('error', () => resolve(-1));
    });
    if (code !== 0) {
      this.pending.delete(id);
      stream?.destroy();
      throw new Error(`cannot pass a socket to QEMU: ${err.trim() || `helper exit ${code}`}`);
    }
    await reply;
    return stream;
  }

  /** Resolve with the first event named `name` that `match` accepts. */
  waitEvent(name: string, match: (data: Record<string, unknown>) => boolean, timeoutMs: number): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for QMP event ${name}`));
      }, timeoutMs);
      const onEvent = (e: QmpEvent) => {
        if (e.event !== name || !match(e.data ?? {})) return;
        cleanup();
        resolve(e);
      };
      const onClosed = () => {
        cleanup();
        reject(this.closedError ?? new Error('QMP closed'));
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.events.off('event', onEvent);
        this.events.off('closed', onClosed);
      };
      this.events.on('event', onEvent);
      this.events.on('closed', onClosed);
      if (this.closedError) onClosed();
    });
  }

  onEvent(listener: (e: QmpEvent) => void): () => void {
    this.events.on('event', listener);
    return () => this.events.off('event', listener);
  }

  close(): void {
    this.sock.destroy();
  }
}
