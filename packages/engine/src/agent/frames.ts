/**
 * The frame protocol spoken with a sandbox's agent (packages/agent/src/frame.h is the other
 * side; docs/agent-protocol.md describes it). A frame is a u32 little-endian length of
 * (type + payload), a type byte, then the payload.
 */
import type { Readable } from 'node:stream';

export const Op = {
  exec: 'E',
  read: 'r',
  write: 'w',
  list: 'l',
  stat: 's',
  mkdir: 'm',
  remove: 'd',
  ping: 'P',
  identity: 'H',
  connectTcp: 'T',
  connectUnix: 'U',
  processes: 'Q',
  signal: 'k',
  mux: 'M',
} as const;

export const In = { stdin: 'I', stdinClose: 'C', resize: 'R', signal: 'K', data: 'D', end: 'Z' } as const;
export const Out = {
  pid: 'p',
  stdout: 'o',
  stderr: 'e',
  exit: 'x',
  data: 'D',
  entry: 'L',
  ok: 'Z',
  fail: 'F',
} as const;

export const EXEC_FLAG_PTY = 1;
export const EXEC_FLAG_STDIN = 2;
export const EXEC_FLAG_DETACH_ON_CLOSE = 4;
/** The field after the command names the user to run it as (see ExecRequest.user). */
export const EXEC_FLAG_USER = 8;
/** No pid frame: the caller waits for the exit and never asks for the pid. */
export const EXEC_FLAG_NO_PID = 16;

/** Largest payload one frame carries; bigger data is split. Matches DATA_CHUNK in C. */
export const DATA_CHUNK = 64 * 1024;
export const FRAME_MAX = 16 * 1024 * 1024;

export interface Frame {
  type: string;
  payload: Buffer;
}

export function encodeFrame(type: string, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const out = Buffer.allocUnsafe(5 + body.length);
  out.writeUInt32LE(body.length + 1, 0);
  out[4] = type.charCodeAt(0);
  body.copy(out, 5);
  return out;
}

/** NUL-separated fields, each terminated, as the C side's split_fields expects. */
export function fields(...values: ReadonlyArray<string | Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const v of values) {
    const b = typeof v === 'string' ? Buffer.from(v) : v;
    if (b.includes(0)) throw new RangeError('field contains a NUL byte');
    parts.push(b, Buffer.from([0]));
  }
  return Buffer.concat(parts);
}

export function splitFields(payload: Buffer): string[] {
  const text = payload.toString('utf8');
  const parts = text.split('\0');
  return parts;
}

/** Incremental decoder: feed socket chunks, get whole frames. */
export class FrameDecoder {
  private buffered: Buffer[] = [];
  private size = 0;

  push(chunk: Buffer): Frame[] {
    this.buffered.push(chunk);
    this.size += chunk.length;
    let buf = this.buffered.length === 1 ? (this.buffered[0] as Buffer) : Buffer.concat(this.buffered, this.size);
    const frames: Frame[] = [];
    let offset = 0;
    while (buf.length - offset >= 5) {
      const total = buf.readUInt32LE(offset);
      if (total < 1 || total > FRAME_MAX + 1) throw new Error(`agent sent a malformed frame (length ${total})`);
      if (buf.length - offset < 4 + total) break;
      frames.push({
        type: String.fromCharCode(buf[offset + 4] as number),
        payload: buf.subarray(offset + 5, offset + 4 + total),
      });
      offset += 4 + total;
    }
    buf = buf.subarray(offset);
    this.buffered = buf.length > 0 ? [buf] : [];
    this.size = buf.length;
    return frames;
  }
}

/**
 * Decode a socket's bytes into frames for `onFrame` until it returns true (the exchange is
 * over: later frames in the same chunk are not delivered). A malformed frame goes to onError.
 */
export function readFrames(
  sock: Pick<Readable, 'on'>,
  onFrame: (f: Frame) => boolean | undefined,
  onError: (err: Error) => void,
): void {
  const decoder = new FrameDecoder();
  sock.on('data', (chunk: Buffer) => {
    let frames: Frame[];
    try {
      frames = decoder.push(chunk);
    } catch (err) {
      onError(err as Error);
      return;
    }
    for (const f of frames) if (onFrame(f) === true) return;
  });
}
