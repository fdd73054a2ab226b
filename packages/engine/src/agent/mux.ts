/**
 * Host side of the stream multiplexer spoken with a sandbox's agent over one byte stream: a
 * microVM's one virtio-serial port, or a container sandbox's one persistent unix-socket
 * connection (packages/agent/src/guest-mux.c is the other side; drivers/microvm/README.md has
 * the frame table). Each operation gets a logical channel that behaves like a socket: a Duplex
 * with half-close, and per-direction credit so one slow reader never blocks the port.
 *
 * A session outlives its transport: a VM that is snapshotted and continues as a restored
 * process (the parent of a fork) keeps its channels, because the guest was fenced first and
 * nothing was in flight in either direction when the old process stopped.
 */
import { Duplex } from 'node:stream';

export const MUX_WINDOW = 256 * 1024;
const MUX_CHUNK = 32 * 1024;
const MAX_FRAME = 1 << 20;

export const Kind = {
  open: 'O',
  data: 'D',
  eof: 'E',
  abort: 'X',
  ack: 'A',
  hello: 'H',
  fence: 'F',
  fenced: 'f',
  resume: 'R',
  resumed: 'r',
} as const;

export function encodeMuxFrame(channel: number, kind: string, payload: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(9 + payload.length);
  out.writeUInt32LE(5 + payload.length, 0);
  out.writeUInt32LE(channel, 4);
  out[8] = kind.charCodeAt(0);
  payload.copy(out, 9);
  return out;
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}

/** How a restored VM wakes up. */
export interface ResumeOptions {
  /** keep: the same sandbox continues (its channels stay); reset: a new sandbox (channels dropped). */
  mode: 'keep' | 'reset';
  hostname: string;
  token: string;
  /** Mixed into the guest's entropy pool, credited, then the guest CRNG reseeds. */
  seed: Buffer;
  /** The sandbox's pids limit (pids.max of the guest's sandbox cgroup); absent: unchanged. */
  pidsMax?: number;
  realtimeNs?: bigint;
}

export class MuxChannel extends Duplex {
  private credit = MUX_WINDOW;
  private unacked = 0;
  private ackWithheld = false;
  private blocked: { data: Buffer; cb: (err?: Error | null) => void } | undefined;
  private sentEof = false;
  private gotEof = false;
  private aborted = false;
  /**
   * The guest hears of the channel with its first bytes (every agent operation starts with the
   * client's request): OPEN and the request then leave in one write, and the guest wakes once.
   */
  private openSent = false;

  constructor(
    readonly id: number,
    private readonly session: MuxSession,
  ) {
    super({ allowHalfOpen: true });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.sendData(chunk, cb);
  }

  private sendData(data: Buffer, cb: (err?: Error | null) => void): void {
    let off = 0;
    while (off < data.length && this.credit > 0) {
      const n = Math.min(MUX_CHUNK, this.credit, data.length - off);
      this.send(encodeMuxFrame(this.id, Kind.data, data.subarray(off, off + n)));
      this.credit -= n;
      off += n;
    }
    if (off < data.length) this.blocked = { data: data.subarray(off), cb };
    else cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.sentEof = true;
    if (!this.aborted) this.send(encodeMuxFrame(this.id, Kind.eof));
    cb();
  }

  override _read(): void {
    // Only what was held back while the reader was full: otherwise the stream machinery asks
    // after every chunk, and each would cost an ack frame and a wake-up of the guest.
    if (!this.ackWithheld) return;
    this.ackWithheld = false;
    this.flushAck();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.openSent && !this.aborted && !(this.sentEof && this.gotEof))
      this.session.sendSoon(encodeMuxFrame(this.id, Kind.abort));
    this.aborted = true;
    this.session.forget(this.id);
    const blocked = this.blocked;
    this.blocked = undefined;
    blocked?.cb(err ?? new Error('channel closed'));
    cb(err);
  }

  private send(frame: Buffer): void {
    if (this.openSent) {
      this.session.send(frame);
      return;
    }
    this.openSent = true;
    this.session.send(Buffer.concat([encodeMuxFrame(this.id, Kind.open), frame]));
  }

  private flushAck(): void {
    if (this.unacked === 0 || this.destroyed) return;
    this.send(encodeMuxFrame(this.id, Kind.ack, u32(this.unacked)));
    this.unacked = 0;
  }

  /** Frames from the guest. */
  onFrame(kind: string, payload: Buffer): void {
    switch (kind) {
      case Kind.data: {
        // Copy: the payload is a view of the session's receive buffer.
        const ok = this.push(Buffer.from(payload));
        this.unacked += payload.length;
        if (!ok) {
          this.ackWithheld = true; // acknowledged once the reader drains (_read)
          return;
        }
        // In quarters of the window: the guest then always has three quarters of its credit
        // left, so it never waits on us, and the usual exec (a little output, then the exit)
        // costs no ack frame, no write and no wake-up of the guest at all.
        if (this.unacked >= MUX_WINDOW / 4) this.flushAck();
        return;
      }
      case Kind.eof:
        this.gotEof = true;
        this.push(null);
        return;
      case Kind.abort:
        this.aborted = true;
        this.destroy();
        return;
      case Kind.ack: {
        this.credit += payload.readUInt32LE(0);
        const blocked = this.blocked;
        if (blocked) {
          this.blocked = undefined;
          this.sendData(blocked.data, blocked.cb);
        }
        return;
      }
    }
  }
}

type Waiter = { resolve: (payload: Buffer) => void; reject: (err: Error) => void };

export class MuxSession {
  private transport: Duplex | undefined;
  private rx: Buffer = Buffer.alloc(0);
  private readonly channels = new Map<number, MuxChannel>();
  private nextId = 1;
  /** While fenced (and until a resume is confirmed) channel frames wait here, in order. */
  private held: Buffer[] | undefined;
  private soon: Buffer[] = [];
  private readonly waiters = new Map<string, Waiter>();
  private closedWith: Error | undefined;
  private helloPayload: Buffer | undefined;
  private unlisten: (() => void) | undefined;

  /** Called when the transport ends without detach() (the VM or the agent died). */
  onLost: (err: Error) => void = () => {};

  /** @param lostMessage what channels fail with when the transport ends on its own. */
  constructor(private readonly lostMessage = 'the VM closed its agent port (QEMU exited)') {}

  attach(transport: Duplex): void {
    this.detach();
    this.rx = Buffer.alloc(0);
    const onData = (chunk: Buffer) => this.receive(chunk);
    const lost = (err?: Error) => {
      if (this.transport !== transport) return;
      this.detach();
      this.fail(new Error(err ? `${this.lostMessage}: ${err.message}` : this.lostMessage));
    };
    const onClose = () => lost();
    const onError = (err: Error) => lost(err);
    transport.on('data', onData);
    transport.on('close', onClose);
    transport.on('error', onError);
    this.transport = transport;
    this.unlisten = () => {
      transport.off('data', onData);
      transport.off('close', onClose);
      transport.off('error', onError);
      // Errors of a transport we no longer use must not crash the process.
      transport.on('error', () => {});
    };
  }

  /** The old process is being replaced: its transport will die, the session must not. */
  detach(): Duplex | undefined {
    const t = this.transport;
    this.unlisten?.();
    this.unlisten = undefined;
    this.transport = undefined;
    return t;
  }

  get attached(): boolean {
    return this.transport !== undefined;
  }

  get openChannels(): number {
    return this.channels.size;
  }

  open(): MuxChannel {
    if (this.closedWith) throw this.closedWith;
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    const ch = new MuxChannel(id, this);
    this.channels.set(id, ch);
    return ch;
  }

  /** @internal channels write through here. */
  send(frame: Buffer): void {
    if (this.held) this.held.push(frame);
    else this.transport?.write(frame);
  }

  /**
   * @internal A frame nobody waits on (the abort of a channel that is done): sent once this
   * turn of the event loop is over, with every other such frame of the turn in one write. A
   * closing channel's answer (an exec's result on its way to a client) then leaves first, and
   * the guest is not woken for it while that answer is being sent.
   */
  sendSoon(frame: Buffer): void {
    this.soon.push(frame);
    if (this.soon.length > 1) return;
    setImmediate(() => {
      const frames = this.soon;
      this.soon = [];
      if (!this.closedWith) this.send(frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames));
    });
  }

  /** @internal */
  forget(id: number): void {
    this.channels.delete(id);
  }

  /** The guest's hello (sent once, at boot). */
  waitHello(timeoutMs: number): Promise<string> {
    if (this.helloPayload) return Promise.resolve(this.helloPayload.toString());
    return this.wait(Kind.hello, timeoutMs).then((p) => p.toString());
  }

  /**
   * Stop all traffic: after this resolves the guest has sent its last byte and holds further
   * output until resumed, and frames from here are held on this side. Then the VM can stop.
   */
  async fence(timeoutMs: number): Promise<void> {
    const t = this.transport;
    if (!t) throw new Error('no transport to fence');
    this.held ??= [];
    const done = this.wait(Kind.fenced, timeoutMs);
    t.write(encodeMuxFrame(0, Kind.fence));
    await done;
  }

  /** Wake a restored guest (fenced in its snapshot) on the current transport. */
  async resume(opts: ResumeOptions, timeoutMs: number): Promise<void> {
    const t = this.transport;
    if (!t) throw new Error('no transport to resume');
    this.held ??= [];
    if (opts.mode === 'reset') {
      for (const ch of [...this.channels.values()]) ch.destroy(new Error('the sandbox was reset'));
      this.held = [];
    }
    const realtime = opts.realtimeNs ?? BigInt(Date.now()) * 1_000_000n;
    for (const f of [opts.mode, opts.hostname, opts.token])
      if (f.includes('\0')) throw new Error('NUL in resume field');
    const pids = opts.pidsMax === undefined ? '' : opts.pidsMax > 0 ? String(Math.floor(opts.pidsMax)) : 'max';
    const payload = Buffer.concat([
      Buffer.from(`${opts.mode}\0${realtime}\0${opts.hostname}\0${opts.token}\0${pids}\0`),
      opts.seed,
    ]);
    const done = this.wait(Kind.resumed, timeoutMs);
    t.write(encodeMuxFrame(0, Kind.resume, payload));
    await done;
    const held = this.held;
    this.held = undefined;
    for (const f of held) t.write(f);
  }

  /** Destroy every channel and refuse new ones. */
  close(err = new Error('the sandbox is gone')): void {
    this.fail(err);
    this.detach()?.destroy();
  }

  private fail(err: Error): void {
    if (this.closedWith) return;
    this.closedWith = err;
    for (const w of this.waiters.values()) w.reject(err);
    this.waiters.clear();
    for (const ch of [...this.channels.values()]) ch.destroy(err);
    this.onLost(err);
  }

  private wait(kind: string, timeoutMs: number): Promise<Buffer> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(kind);
        reject(new Error(`the guest agent did not answer '${kind}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(kind, {
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  private receive(chunk: Buffer): void {
    this.rx = this.rx.length === 0 ? chunk : Buffer.concat([this.rx, chunk]);
    let off = 0;
    while (this.rx.length - off >= 9) {
      const total = this.rx.readUInt32LE(off);
      if (total < 5 || total > MAX_FRAME) {
        this.close(new Error(`the guest agent sent a malformed mux frame (length ${total})`));
        return;
      }
      if (this.rx.length - off < 4 + total) break;
      const channel = this.rx.readUInt32LE(off + 4);
      const kind = String.fromCharCode(this.rx[off + 8] as number);
      const payload = this.rx.subarray(off + 9, off + 4 + total);
      off += 4 + total;
      this.dispatch(channel, kind, payload);
    }
    this.rx = off === this.rx.length ? Buffer.alloc(0) : this.rx.subarray(off);
  }

  private dispatch(channel: number, kind: string, payload: Buffer): void {
    if (channel === 0) {
      if (kind === Kind.hello) this.helloPayload = Buffer.from(payload);
      const w = this.waiters.get(kind);
      if (w) {
        this.waiters.delete(kind);
        w.resolve(Buffer.from(payload));
      }
      return;
    }
    const ch = this.channels.get(channel);
    if (ch) ch.onFrame(kind, payload);
    else if (kind !== Kind.abort && kind !== Kind.ack) this.send(encodeMuxFrame(channel, Kind.abort));
  }
}
